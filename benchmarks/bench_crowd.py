"""A real upload while a crowd of connections that never authenticate holds the server.

    python -m benchmarks.bench_crowd [--attackers 1000] [--size 256MiB] [--repeat 3]
                                     [--reconnect 1.0]

Starts a `python server.py` (port 0, default limits) and uploads REPEAT files of SIZE
(distinct content each, so no dedup) with `loglens.client.upload_file` and no retries:
1. the baseline: with nobody else connected;
2. under a crowd from one address: ATTACKERS connections from 127.0.0.2, in another
   process, half of them silent after the handshake, half dripping an UPLOAD frame a byte
   every 0.5 s, each reconnecting RECONNECT s after the server closes it (as an attacker
   would);
3. under a crowd from many addresses: the same from 127.0.1.1-127.0.1.250 (4 each), so
   the limit per address does not apply and the share of MAX_CONNECTIONS does.
The real client connects from 127.0.0.1. Prints each upload's seconds, their medians and
the ratio to the baseline, and the CPU seconds the server (its process tree) and the crowd
used meanwhile: on one machine the crowd's own CPU is taken from the server and client.
Target (issue 13): under 1,000 attackers an upload finishes, within 2x its normal time.
Exit status 1 if an upload fails or the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.uploadkit import ROOT, TOKEN, ServerProcess, process_cpu, tree_cpu
from loglens.client.models import UploadError
from loglens.client.upload import upload_file
from loglens.config import parse_size
from loglens.protocol import FRAME_HEAD, HANDSHAKE, FrameType

_LINE = b"2024-05-01 10:00:00,000 INFO [worker-%03d] file %d request %07d served\n"
_DRIP = HANDSHAKE + FRAME_HEAD.pack(FrameType.UPLOAD, 18) + b'{"token": "guess"}'


def write_log(path: Path, size: int, number: int) -> None:
    """A log of about `size` bytes whose content differs for each `number`."""
    with path.open("wb") as out:
        written, n = 0, 0
        while written < size:
            block = b"".join(_LINE % (i % 1000, number, n + i) for i in range(10_000))
            out.write(block)
            written += len(block)
            n += 10_000


async def attacker(host: str, port: int, source: str, drip: bool, pause: float) -> None:
    """One connection slot that never authenticates, reconnecting when closed."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            await asyncio.sleep(pause)
            continue
        try:
            if drip:
                for byte in _DRIP:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.5)
            else:
                writer.write(HANDSHAKE)
                while await reader.read(4096):
                    pass
        except OSError:
            pass
        finally:
            writer.transport.abort()
        await asyncio.sleep(pause)


async def crowd(host: str, port: int, count: int, sources: list[str], pause: float) -> None:
    """Run `count` attackers from `sources` in turn until killed."""
    tasks = [
        asyncio.create_task(attacker(host, port, sources[i % len(sources)], i % 2 == 1, pause))
        for i in range(count)
    ]
    print("ready", flush=True)
    await asyncio.gather(*tasks)


def start_crowd(
    address: tuple[str, int], count: int, sources: list[str], pause: float
) -> subprocess.Popen[str]:
    """The crowd in a process of its own (its loop must not slow the real client's)."""
    command = [sys.executable, "-m", "benchmarks.bench_crowd", "--crowd", address[0],
               str(address[1]), str(count), ",".join(sources), str(pause)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the crowd did not start")
    time.sleep(3.0)  # let its connections pile up
    return process


def timed_uploads(address: tuple[str, int], paths: list[Path]) -> list[float]:
    """Upload each file once, no retries; the seconds each took."""
    seconds = []
    for path in paths:
        start = time.perf_counter()
        asyncio.run(upload_file(path, f"{address[0]}:{address[1]}", TOKEN, retries=0))
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, default=1000)
    parser.add_argument("--size", default="256MiB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reconnect", type=float, default=1.0)
    args = parser.parse_args()
    size = parse_size(args.size, "--size")
    runs: dict[str, list[str]] = {
        "baseline (no crowd)": [],
        "crowd from one address": ["127.0.0.2"],
        "crowd from 250 addresses": [f"127.0.1.{i}" for i in range(1, 251)],
    }
    medians: dict[str, float] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-crowd-") as folder:
        paths = [Path(folder) / f"app-{i}.log" for i in range(args.repeat * len(runs))]
        for number, path in enumerate(paths):
            write_log(path, size, number)
        server = ServerProcess(Path(folder) / "server", 2).start()
        try:
            for index, (name, sources) in enumerate(runs.items()):
                attackers = None
                if sources:
                    attackers = start_crowd(server.address, args.attackers, sources, args.reconnect)
                mine = paths[index * args.repeat : (index + 1) * args.repeat]
                server_cpu = tree_cpu(server.pid)
                crowd_cpu = process_cpu(attackers.pid) if attackers is not None else 0.0
                try:
                    seconds = timed_uploads(server.address, mine)
                except UploadError as exc:
                    print(f"{name}: an upload FAILED: {exc}")
                    ok = False
                    continue
                finally:
                    server_cpu = tree_cpu(server.pid) - server_cpu
                    if attackers is not None:
                        crowd_cpu = process_cpu(attackers.pid) - crowd_cpu
                        attackers.kill()
                        attackers.wait()
                medians[name] = statistics.median(seconds)
                print(f"{name}: " + ", ".join(f"{s:.2f} s" for s in seconds)
                      + f" (median {medians[name]:.2f} s); CPU s meanwhile: server "
                      f"{server_cpu:.1f}, crowd {crowd_cpu:.1f}")  # fmt: skip
                time.sleep(2.0)  # the server closes what the crowd left
            log = server.log()
        finally:
            server.stop()
    base = medians.get("baseline (no crowd)")
    for name, median in medians.items():
        if base and name != "baseline (no crowd)":
            ratio = median / base
            ok = ok and ratio <= 2.0
            print(f"{name}: {ratio:.2f}x the baseline (target <= 2x)")
    print(f"server log: {log.count('refused: server_busy')} connections refused server_busy, "
          f"{log.count('pushed out of its handshake')} pushed out, "
          f"{log.count('handshake_timeout')} handshake timeouts; "
          f"{log.count('Traceback')} tracebacks")  # fmt: skip
    print(f"target: {'met' if ok else 'MISSED'} ({os.cpu_count()} CPUs, shared)")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--crowd":
        host, port, count, sources, pause = sys.argv[2:7]
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(crowd(host, int(port), int(count), sources.split(","), float(pause)))
    else:
        sys.exit(main())
