"""GET /stream/events for real: a server and the API on port 0 over one SQLite file, an
event stream open while logs are uploaded; what it says, in each operator's scope."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loglens.api.events import MAX_STREAMS
from loglens.protocol import FrameType, encode
from tests.integration.conftest import TOKENS, ServerHandle
from tests.integration.test_api import running_api
from tests.integration.test_findings import DB_TEMPLATE, service_log
from tests.integration.test_queries import send
from tests.integration.test_streams import lines as stream_lines
from tests.integration.test_streams import open_stream

WAIT = 60.0


@dataclass
class Event:
    """One server-sent event."""

    id: int
    kind: str
    data: dict[str, Any]


class EventStream:
    """An open GET /stream/events, read by a thread into a queue of events."""

    def __init__(self, url: str, token: str, interval: float = 0.2) -> None:
        self.events: queue.Queue[Event | BaseException] = queue.Queue()
        self.status = 0
        self._opened = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, token, interval), daemon=True)
        self._thread.start()
        assert self._opened.wait(WAIT), "the stream did not open"

    def _read(self, url: str, token: str, interval: float) -> None:
        query = urllib.parse.urlencode({"interval": interval})
        request = urllib.request.Request(f"{url}/stream/events?{query}")
        request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as answer:
                self.status = answer.status
                self.content_type = answer.headers.get("content-type", "")
                self._opened.set()
                fields: dict[str, str] = {}
                for raw in answer:
                    if self._closing.is_set():
                        return
                    line = raw.decode().rstrip("\n")
                    if line == "":
                        if "event" in fields:
                            data = json.loads(fields["data"])
                            self.events.put(Event(int(fields["id"]), fields["event"], data))
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(": ")
                        fields[name] = value
        except BaseException as exc:  # the test reads it from the queue
            self._opened.set()
            if not self._closing.is_set():
                self.events.put(exc)

    def next(self, kind: str) -> Event:
        """The next event of `kind` (others of the meanwhile are skipped)."""
        while True:
            item = self.events.get(timeout=WAIT)
            if isinstance(item, BaseException):
                raise item
            if item.kind == kind:
                return item

    def close(self) -> None:
        """Stop reading (the connection closes with the thread's request)."""
        self._closing.set()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[ServerHandle, str]]:
    """A server and the API over its database."""
    server = ServerHandle(tmp_path / "server", {})
    server.root.mkdir(parents=True)
    try:
        server.start()
        with running_api(server.db_path, tmp_path) as api:
            assert api.url is not None
            yield server, api.url
    finally:
        server.cleanup()


def test_the_event_stream_tells_new_results_as_they_are_stored(
    live: tuple[ServerHandle, str], tmp_path: Path
) -> None:
    server, url = live
    quiet = service_log(tmp_path / "quiet" / "svc.log", spike=False)
    burst = service_log(tmp_path / "burst" / "svc.log", spike=True)
    send(server, "alice", quiet, "svc.log")
    alice = EventStream(url, TOKENS["alice"])
    bob = EventStream(url, TOKENS["bob"])
    try:
        assert alice.status == 200 and alice.content_type.startswith("text/event-stream")
        hello = alice.next("hello")
        assert hello.id == 1 and hello.data["uploads"] == 1 and hello.data["entries"] > 1000
        assert bob.next("hello").data["uploads"] == 0  # bob sees none of alice's uploads
        before = hello.data["levels"]

        send(server, "alice", burst, "svc.log")  # a burst of database errors
        counts = alice.next("counts")
        assert counts.data["uploads"] == 2
        assert counts.data["added"]["ERROR"] == counts.data["levels"]["ERROR"] - before.get(
            "ERROR", 0
        )
        assert counts.data["added"]["ERROR"] >= 120
        incident = alice.next("incident")
        assert incident.data["original_name"] == "svc.log"
        assert any(t["template"] == DB_TEMPLATE for t in incident.data["templates"])
        assert incident.data["findings"] and incident.id > counts.id

        send(server, "bob", quiet, "mine.log")  # bob's own upload: his stream moves
        assert bob.next("counts").data["uploads"] == 1
    finally:
        alice.close()
        bob.close()


def test_the_event_stream_refuses_bad_requests(live: tuple[ServerHandle, str]) -> None:
    _server, url = live

    def status(token: str | None, **params: str) -> tuple[int, str]:
        query = urllib.parse.urlencode(params)
        request = urllib.request.Request(f"{url}/stream/events?{query}")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as answer:
                return answer.status, ""
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert status(None)[0] == 401
    assert status("nope")[0] == 401
    for interval in ("0", "61", "soon", "nan"):
        code, body = status(TOKENS["alice"], interval=interval)
        assert code == 422 and "interval" in body, (interval, code, body)


def open_raw_stream(url: str, token: str) -> tuple[socket.socket, int]:
    """GET /stream/events on a socket of its own; return it and the answer's status."""
    address = urllib.parse.urlsplit(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=WAIT)
    sock.sendall(
        f"GET /stream/events?interval=5 HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "the API closed the connection"
        head += chunk
    return sock, int(head.split()[1])


def test_streams_are_limited_and_freed_when_their_clients_go(
    live: tuple[ServerHandle, str],
) -> None:
    _server, url = live
    opened = []
    try:
        for _ in range(MAX_STREAMS):
            sock, code = open_raw_stream(url, TOKENS["alice"])
            opened.append(sock)
            assert code == 200
        sock, code = open_raw_stream(url, TOKENS["bob"])
        sock.close()
        assert code == 503  # one stream too many, whoever asks
        for sock in opened[:2]:  # two clients go away
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        deadline = time.monotonic() + WAIT
        while True:  # noticed within an interval (5 s): a new stream is let in
            sock, code = open_raw_stream(url, TOKENS["bob"])
            opened.append(sock)
            if code == 200:
                break
            assert time.monotonic() < deadline, "the streams of gone clients were kept"
            time.sleep(0.5)
    finally:
        for sock in opened:
            sock.close()


async def test_a_stream_s_lines_are_told_as_they_arrive(
    live: tuple[ServerHandle, str],
) -> None:
    server, url = live
    alice = EventStream(url, TOKENS["alice"])
    try:
        assert alice.next("hello").data["entries"] == 0
        peer, accepted = await open_stream(server)
        await peer.send(encode(FrameType.DATA, stream_lines(0, 300)))
        counts = alice.next("counts")
        while counts.data["entries"] < 300:  # the first lines may come in two steps
            counts = alice.next("counts")
        assert counts.data["entries"] == 300 and counts.data["uploads"] == 1
        await peer.send(encode(FrameType.DATA, stream_lines(300, 50)))
        added: dict[str, int] = {}
        while (counts := alice.next("counts")).data["entries"] < 350:
            added = {k: added.get(k, 0) + counts.data["added"].get(k, 0) for k in ("ERROR", "INFO")}
        added = {k: added.get(k, 0) + counts.data["added"].get(k, 0) for k in ("ERROR", "INFO")}
        assert counts.data["entries"] == 350 and added == {"ERROR": 5, "INFO": 45}
        await peer.close()
        assert accepted["upload_id"] == 1
    finally:
        alice.close()
