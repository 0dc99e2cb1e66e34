"""A webhook receiver on loopback for tests: keeps each POSTed JSON body with when it came."""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
from typing import Any


class Webhook:
    """An HTTP server in a thread; `received` holds (monotonic time, body) per POST."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        received = self.received

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.put((time.monotonic(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
