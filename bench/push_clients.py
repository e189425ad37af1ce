"""The push benchmark's WebSocket clients: one asyncio process holding many connections.

    python -m bench.push_clients --clients 1000 --url ws://127.0.0.1:PORT/ws/occupancy/?snapshot=0 [--url …]

Talks to the benchmark over stdin/stdout, one JSON object a line:
- prints ``{"connected": n, "seconds": s}`` once every connection is open (or ``{"error": …}``);
- on ``start`` from stdin, begins recording: for every connection, the first time each lot code
  appears in a message (``time.monotonic()``, which is CLOCK_MONOTONIC, the same clock in every
  process on this machine, so it compares with the benchmark's send times);
- on ``stop`` (or end of stdin) prints ``{"received": {code: [t, …]}, "messages": n, "closed": n}``
  and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections import defaultdict
from urllib.parse import urlsplit

import websockets


def raise_open_files(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Clients:
    def __init__(self, urls: list[str], count: int):
        self.urls = urls
        self.count = count
        self.recording = False
        self.received: dict[str, list[float]] = defaultdict(list)
        self.seen: list[set[str]] = [set() for _ in range(count)]
        self.messages = 0
        self.closed = 0
        self.sockets: list = []

    async def open(self, index: int, gate: asyncio.Semaphore):
        url = self.urls[index % len(self.urls)]
        parts = urlsplit(url)
        async with gate:
            ws = await websockets.connect(url, origin=f"http://{parts.netloc}", max_size=None, ping_interval=None,
                                          open_timeout=60, close_timeout=2)
        self.sockets.append(ws)
        return ws

    async def listen(self, index: int, ws) -> None:
        seen = self.seen[index]
        try:
            async for message in ws:
                now = time.monotonic()
                self.messages += 1
                if not self.recording:
                    continue
                for lot in json.loads(message).get("lots", ()):
                    code = lot["code"]
                    if code not in seen:
                        seen.add(code)
                        self.received[code].append(now)
        except websockets.ConnectionClosed:
            pass
        self.closed += 1


async def main(urls: list[str], count: int) -> None:
    raise_open_files(count + 256)
    clients = Clients(urls, count)
    gate = asyncio.Semaphore(64)
    started = time.monotonic()
    try:
        sockets = await asyncio.gather(*(clients.open(i, gate) for i in range(count)))
    except Exception as exc:  # reported to the benchmark, which fails with it
        emit({"error": f"{exc.__class__.__name__}: {exc}", "connected": len(clients.sockets)})
        return
    listeners = [asyncio.create_task(clients.listen(i, ws)) for i, ws in enumerate(sockets)]
    emit({"connected": len(sockets), "seconds": time.monotonic() - started})
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "start":
            clients.recording = True
        elif line in ("stop", ""):
            break
    clients.recording = False
    emit({"received": clients.received, "messages": clients.messages, "closed": clients.closed})
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for task in listeners:
        task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", action="append", required=True)
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.clients))
