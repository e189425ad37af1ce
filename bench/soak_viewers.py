"""The soak benchmark's map viewers: one asyncio process holding many WebSocket connections.

    python -m bench.soak_viewers --plan PLAN.json

``PLAN.json`` is ``{"urls": [ws://…], "boxes": [[minLon, minLat, maxLon, maxLat], …]}``:
viewer i connects to ``urls[i % len(urls)]`` with ``?snapshot=0`` and subscribes to ``boxes[i]``, as a
phone showing one neighbourhood of the map does (SPEC §4). Talks to the benchmark over stdin/stdout,
one JSON object a line:

- prints ``{"connected": n, "seconds": s}`` once every viewer is connected and subscribed (or ``{"error": …}``);
- on ``arm CODE FREE`` (sent just before the benchmark posts a sentinel entry for that lot), records the
  ``time.monotonic()`` of every viewer's first message that shows lot CODE with FREE free berths
  (CLOCK_MONOTONIC: the same clock as the benchmark's send times). Matching the count, not only the
  code, keeps out a message about that lot for another reason (the connectivity watch marking a
  silent lot offline);
- on ``stop`` prints ``{"received": {code: [t, …]}, "messages": n, "bytes": n, "closed": n}`` and exits.

``closed`` counts viewers whose connection ended before ``stop`` (a server that dropped them as slow,
or crashed): in a healthy soak it is 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from contextlib import suppress
from urllib.parse import urlsplit

import websockets

from .push_clients import emit, raise_open_files

CONNECT_ATTEMPTS = 5


class Viewers:
    def __init__(self, plan: dict):
        self.urls: list[str] = plan["urls"]
        self.boxes: list[list[float]] = plan["boxes"]
        self.armed: dict[str, int] = {}
        self.stopping = False
        self.received: dict[str, list[float]] = defaultdict(list)
        self.seen: list[set[str]] = [set() for _ in self.boxes]
        self.messages = 0
        self.bytes = 0
        self.closed = 0
        self.retries = 0

    async def open(self, index: int, gate: asyncio.Semaphore):
        """Connect and subscribe; a handshake the busy server dropped is tried again, as a phone would."""
        url = f"{self.urls[index % len(self.urls)]}/ws/occupancy/?snapshot=0"
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                async with gate:
                    ws = await websockets.connect(url, origin=f"http://{urlsplit(url).netloc}", max_size=None,
                                                  ping_interval=None, open_timeout=120, close_timeout=2)
                    await ws.send(json.dumps({"type": "subscribe", "bbox": self.boxes[index]}))
                return ws
            except (OSError, websockets.InvalidHandshake, websockets.InvalidMessage, websockets.ConnectionClosed):
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                self.retries += 1
                await asyncio.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    async def listen(self, index: int, ws) -> None:
        seen = self.seen[index]
        with suppress(websockets.ConnectionClosed):  # a closed connection ends this viewer: counted below
            async for message in ws:
                now = time.monotonic()
                self.messages += 1
                self.bytes += len(message)
                if not self.armed:
                    continue
                for lot in json.loads(message).get("lots", ()):
                    code = lot["code"]
                    if self.armed.get(code) == lot["free_berths"] and code not in seen:
                        seen.add(code)
                        self.received[code].append(now)
        if not self.stopping:
            self.closed += 1


async def main(plan: dict) -> None:
    viewers = Viewers(plan)
    raise_open_files(len(viewers.boxes) + 256)
    gate = asyncio.Semaphore(16)
    started = time.monotonic()
    try:
        sockets = await asyncio.gather(*(viewers.open(i, gate) for i in range(len(viewers.boxes))))
    except Exception as exc:  # reported to the benchmark, which fails with it
        emit({"error": f"{exc.__class__.__name__}: {exc}"})
        return
    listeners = [asyncio.create_task(viewers.listen(i, ws)) for i, ws in enumerate(sockets)]
    emit({"connected": len(sockets), "seconds": time.monotonic() - started, "retries": viewers.retries})
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line.startswith("arm "):
            _, code, free = line.split()
            viewers.armed[code] = int(free)
        elif line in ("stop", ""):
            break
    viewers.armed = {}
    viewers.stopping = True
    emit({"received": viewers.received, "messages": viewers.messages, "bytes": viewers.bytes,
          "closed": viewers.closed})
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    for task in listeners:
        task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True)
    args = parser.parse_args()
    with open(args.plan) as handle:
        asyncio.run(main(json.load(handle)))
