"""Push latency: from the ingest POST of an entry to each WebSocket client's message naming that lot.

1,000 clients (one asyncio process, ``bench.push_clients``) are connected to ``/ws/occupancy/``,
half on each server process, with ``?snapshot=0`` (the map loads the GeoJSON first, then wants
changes only; a 5,000-lot snapshot to each of 1,000 clients would only slow the set-up). Each
sample posts one signed entry for a lot nothing else touches, noting the time just before the
POST; each client notes when a message first names that lot. Latency = receive − send, pooled
over all clients and samples. Samples are 1.2–2.2 s apart (random), so they land at every phase
of the servers' one-second tick: up to a second of coalescing is by design (SPEC §4).

Baselines, same run: the HTTP POST's own round trip (the write commits and hands the change to
the channel layer before answering, so no push can beat it), and the channel layer alone — a
``group_send`` to a group whose only member is one raw channel that this process ``receive``s,
i.e. one hop through Redis with no server, hub or tick.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
from channels.layers import get_channel_layer
from django.utils import timezone

from apps.demo.simulation import PlateGenerator
from apps.lots.services import device_issue
from apps.sessions.signing import signed_headers

from .env import REPO, BenchEnv, BenchError, CpuMeter, Servers, stop_process
from .ingest import PATH, bench_lots


@dataclass
class PushResult:
    clients: int
    samples: int
    latencies: list[float]
    missed: int
    post_latencies: list[float]
    layer_latencies: list[float]
    connect_seconds: float
    closed: int
    spreads: list[float] = field(default_factory=list)  # per sample: last client's receive − first's
    cpu: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def percentile(values: list[float], pct: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]

    def p(self, pct: float) -> float:
        return self.percentile(self.latencies, pct)


class _Clients:
    """The client process and its line protocol."""

    def __init__(self, env: BenchEnv, urls: list[str], count: int):
        args = [sys.executable, "-m", "bench.push_clients", "--clients", str(count)]
        for url in urls:
            args += ["--url", f"{url}/ws/occupancy/?snapshot=0"]
        self.proc = subprocess.Popen(args, cwd=REPO, env=env.process_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read(self, timeout: float) -> dict:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            self.stop()
            raise BenchError(f"the WebSocket client process said nothing within {timeout:.0f} s: "
                             f"{self.proc.stderr.read()[-2000:] if self.proc.poll() is not None else ''}")
        return json.loads(box[0])

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        stop_process(self.proc)


def _entry(code: str, plate: str, color: str) -> dict:
    return {"event_id": f"push-{uuid.uuid4().hex[:16]}", "type": "entry", "lot_code": code,
            "occurred_at": timezone.localtime().isoformat(timespec="seconds"), "plate": plate, "plate_color": color,
            "vehicle_class": "small"}


async def _layer_hops(samples: int) -> list[float]:
    layer = get_channel_layer()
    group = f"bench-hop-{uuid.uuid4().hex[:8]}"
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    hops = []
    try:
        for _ in range(samples):
            started = time.monotonic()
            await layer.group_send(group, {"type": "bench.ping"})
            await asyncio.wait_for(layer.receive(channel), 5)
            hops.append(time.monotonic() - started)
    finally:
        await layer.group_discard(group, channel)
    return hops


def layer_baseline(samples: int = 200) -> list[float]:
    return asyncio.run(_layer_hops(samples))


def run(env: BenchEnv, servers: Servers, *, clients: int = 1000, samples: int = 30, seed: int = 1,
        gap_s: tuple[float, float] = (1.2, 2.2), wait_s: float = 5.0, lot_offset: int = 0,
        say=print) -> PushResult:
    rng = random.Random(seed)
    lots = bench_lots(samples, offset=lot_offset)  # lots no benchmark has touched
    device, secret = device_issue(name="基准测试推送", lots=lots)  # one lot system for all sample lots
    access_key = device.access_key
    # Fresh plates every run: an entry for a plate already parked there (from an earlier run on a
    # kept database) would supersede that stay without changing the count, so nothing is pushed.
    plates = PlateGenerator(random.Random(uuid.uuid4().int))

    say(f"push: connecting {clients} WebSocket clients…")
    proc = _Clients(env, servers.ws_urls, clients)
    try:
        hello = proc.read(timeout=180)
        if "error" in hello:
            raise BenchError(f"WebSocket clients could not connect ({hello['connected']} did): {hello['error']}")
        time.sleep(2.0)  # let the servers' hubs settle (first state load, group join)
        proc.send("start")
        sent: dict[str, float] = {}
        posts = []
        say(f"push: {samples} samples…")
        with CpuMeter(servers=servers.pids, clients=[proc.proc.pid]) as meter, \
                httpx.Client(timeout=30) as http:
            for index, lot in enumerate(lots):
                time.sleep(rng.uniform(*gap_s))
                vehicle = plates()
                while vehicle.plate is None:
                    vehicle = plates()
                body = json.dumps({"events": [_entry(lot.code, vehicle.plate, vehicle.plate_color)]},
                                  ensure_ascii=False).encode()
                headers = {"Content-Type": "application/json",
                           **signed_headers(access_key, secret, "POST", PATH, body)}
                url = servers.http_urls[index % len(servers.http_urls)] + PATH
                started = time.monotonic()
                response = http.post(url, content=body, headers=headers)
                posts.append(time.monotonic() - started)
                if response.status_code != 200 or response.json()["accepted"] != 1:
                    raise BenchError(f"push sample POST answered {response.status_code}: {response.text[:300]}")
                sent[lot.code] = started
            time.sleep(wait_s)
        proc.send("stop")
        report = proc.read(timeout=60)
    finally:
        proc.stop()

    latencies, spreads, missed = [], [], 0
    for code, started in sent.items():
        times = report["received"].get(code, [])
        latencies += [t - started for t in times]
        missed += clients - len(times)
        if times:
            spreads.append(max(times) - min(times))
    say("push: channel layer baseline…")
    hops = layer_baseline()
    result = PushResult(clients=clients, samples=len(sent), latencies=latencies, missed=missed,
                        post_latencies=posts, layer_latencies=hops, connect_seconds=hello["seconds"],
                        closed=report["closed"], spreads=spreads, cpu=meter.percent)
    if latencies and statistics.median(latencies) < 0:
        raise BenchError("negative push latencies: the clocks of the two processes disagree")
    return result
