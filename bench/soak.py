"""Soak: the production process set under a city's load for ten minutes (issue 12, "load and soak").

Two daphne workers, a Celery worker and Celery beat (bench settings = production settings with the
benchmark's own Redis prefixes) serve:

- **the simulator**: ``manage.py simulate_city`` — the demo's lot systems, signed batches through the
  real ingest API — in several processes, each driving its own shard of the city's lots
  (``--shard K/N``), together at ``rate`` events a second (entries and exits; heartbeats and
  ``lot_status`` snapshots come on top, as a real lot system sends them);
- **map viewers**: ``bench.soak_viewers``, one asyncio process holding ``viewers`` WebSocket
  connections, each subscribed to a neighbourhood-sized bbox (about 2 × 1.8 km), as a phone showing the
  map is;
- **sentinels**: every ~5 s the benchmark posts one signed entry for a lot no simulator drives, and
  notes the time just before the POST. Every viewer whose box holds that lot should get a message
  naming it: latency = its receive − the send (up to a second of coalescing is by design, SPEC §4);
  a viewer that should have and did not is a miss.

Phases: start the processes; warm up (the simulators issue their devices and replay what is parked,
the viewers connect and subscribe) for ``warmup`` seconds; take each process's memory; run the
measured window of ``seconds``; take memory again. Growth = after ÷ before − 1 per process (a process
tree: Celery's pool children count with their worker).

Reported: p50/p95/p99 push latency, misses, viewers dropped, events stored per second (counted in the
database over the window), the simulators' accepted/rejected/failed sends, error lines in the
workers' logs, and CPU of each part over the window (PostgreSQL and Redis included).
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.db.models import Count
from django.utils import timezone

from apps.demo.simulation import PlateGenerator
from apps.lots.models import ParkingLot
from apps.lots.services import device_issue
from apps.sessions.models import IngestEvent
from apps.sessions.signing import signed_headers

from .env import REPO, BenchEnv, BenchError, CpuMeter, Servers, stop_process
from .ingest import PATH
from .push import PushResult

SHARDS = 5  # simulators run shards 0..SHARDS-2; the last shard holds the sentinels, which no simulator drives
BOX_HALF_LON = 0.011  # ≈ 1.1 km at Wuxi's latitude
BOX_HALF_LAT = 0.008  # ≈ 0.9 km
SENTINEL_GAP_S = (4.0, 6.0)
ACCEPTED = re.compile(r"接受 (\d+)，重复 (\d+)，拒绝 (\d+)")
WARM = re.compile(r"预热：补发 (\d+) 条")
SENT = re.compile(r"已发送 (\d+) 条事件")


@dataclass
class SoakResult:
    seconds: float
    viewers: int
    rate: float
    simulators: int
    simulated_lots: int
    events_stored: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    sim_accepted: int = 0
    sim_duplicates: int = 0
    sim_rejected: int = 0
    sim_failed_sends: int = 0
    sim_last_lines: list[str] = field(default_factory=list)
    sentinels: int = 0
    sentinel_failures: int = 0
    expected: int = 0
    latencies: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)
    connect_seconds: float = 0.0
    connect_retries: int = 0
    closed: int = 0
    messages: int = 0
    bytes: int = 0
    memory_kib: dict[str, list[int]] = field(default_factory=dict)  # name → [before, after, peak]
    log_errors: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def event_rate(self) -> float:
        return self.events_stored / self.seconds if self.seconds else 0.0

    @property
    def missed(self) -> int:
        return self.expected - len(self.latencies)

    def p(self, pct: float) -> float:
        return PushResult.percentile(self.latencies, pct)

    def growth(self, name: str) -> float:
        before, after, _peak = self.memory_kib[name]
        return after / before - 1 if before else float("nan")


# --- processes ------------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2:].split()[1])
                tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _rss_kib(pid: int) -> int:
    with suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    tree, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_kib(current)
        todo += tree.get(current, [])
    return total


class _Line:
    """A child whose stdout we read line by line in a thread (the simulators, the viewers)."""

    def __init__(self, args: list[str], env: dict, log: Path, *, stdin: bool = False):
        with open(log.with_suffix(".err"), "w") as errors:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=errors, text=True,
                                         stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(log,), daemon=True).start()

    def _read(self, log: Path) -> None:
        with open(log, "w") as handle:
            for line in self.proc.stdout:
                handle.write(line)
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and seen == len(self.lines)):
                    raise BenchError(f"{self.proc.args[2:5]}: no expected line within {timeout:.0f} s; "
                                     f"last lines: {self.lines[-5:]}")
                self._cond.wait(min(left, 1.0))

    def send(self, text: str) -> None:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stop(self, *, sig=signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        stop_process(self.proc)


def _celery(env: BenchEnv, role: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "celery", "-A", "wuxi_parking", role, "--loglevel", "WARNING"]
    if role == "worker":
        args += ["--concurrency", "1"]
    else:
        args += ["--schedule", str(env.log_dir / "soak-celerybeat-schedule")]
    with open(env.log_dir / f"soak-celery-{role}.log", "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(args, cwd=REPO, env=env.process_env(), stdout=log, stderr=subprocess.STDOUT)


# --- the plan -------------------------------------------------------------------------------

def _sentinel_lots(count: int) -> list[ParkingLot]:
    """Open off-street lots with a tariff in the shard no simulator drives."""
    every = list(ParkingLot.objects.filter(status=ParkingLot.Status.OPEN, total_berths__gt=0).order_by("code")
                 .values_list("pk", flat=True))
    free_shard = set(every[SHARDS - 1::SHARDS])
    lots = [lot for lot in ParkingLot.objects.filter(pk__in=free_shard, kind=ParkingLot.Kind.OFF_STREET,
                                                     tariff__isnull=False).order_by("code")
            if lot.total_berths > 5]
    if len(lots) < count:
        raise BenchError(f"only {len(lots)} lots can be sentinels; {count} are needed (seed more lots)")
    return lots[:count]


def _boxes(lots: list[ParkingLot], viewers: int, rng: random.Random) -> list[list[float]]:
    boxes = []
    for index in range(viewers):
        lot = lots[index % len(lots)]
        lon = lot.lon + rng.uniform(-0.6, 0.6) * BOX_HALF_LON
        lat = lot.lat + rng.uniform(-0.6, 0.6) * BOX_HALF_LAT
        boxes.append([round(lon - BOX_HALF_LON, 6), round(lat - BOX_HALF_LAT, 6),
                      round(lon + BOX_HALF_LON, 6), round(lat + BOX_HALF_LAT, 6)])
    return boxes


def _inside(box: list[float], lot: ParkingLot) -> bool:
    return box[0] <= lot.lon <= box[2] and box[1] <= lot.lat <= box[3]


def _entry(code: str, plate: str, color: str) -> dict:
    return {"event_id": f"soak-{uuid.uuid4().hex[:16]}", "type": "entry", "lot_code": code,
            "occurred_at": timezone.localtime().isoformat(timespec="seconds"), "plate": plate,
            "plate_color": color, "vehicle_class": "small"}


# --- the run --------------------------------------------------------------------------------

def run(env: BenchEnv, servers: Servers, *, viewers: int = 2000, rate: float = 500.0, seconds: float = 600.0,
        warmup: float = 60.0, simulators: int = 4, lots_per_simulator: int = 150, speed: float = 1.0,
        seed: int = 1,
        say=print) -> SoakResult:
    if not 1 <= simulators <= SHARDS - 1:
        raise BenchError(f"1 to {SHARDS - 1} simulators (the last of {SHARDS} shards holds the sentinels)")
    rng = random.Random(seed)
    sentinels = _sentinel_lots(max(1, int(seconds / (sum(SENTINEL_GAP_S) / 2))))  # one per gap
    device, secret = device_issue(name="基准测试浸泡", lots=sentinels)
    boxes = _boxes(sentinels, viewers, rng)
    plan = env.log_dir / "soak-plan.json"
    plan.write_text(json.dumps({"urls": servers.ws_urls, "boxes": boxes}))
    result = SoakResult(seconds=seconds, viewers=viewers, rate=rate, simulators=simulators,
                        simulated_lots=simulators * lots_per_simulator)
    plates = PlateGenerator(random.Random(uuid.uuid4().int))
    names: dict[str, int] = {}
    sims: list[_Line] = []
    celery: list[subprocess.Popen] = []
    watchers: _Line | None = None
    try:
        celery = [_celery(env, "worker"), _celery(env, "beat")]
        say(f"soak: {simulators} simulators × {lots_per_simulator} lots at {rate / simulators:.0f} events/s each…")
        for index in range(simulators):
            url = servers.http_urls[index % len(servers.http_urls)]
            sims.append(_Line([sys.executable, "manage.py", "simulate_city", "--url", url,
                               "--rate", str(rate / simulators), "--lots", str(lots_per_simulator),
                               "--shard", f"{index}/{SHARDS}", "--seed", str(seed + index),
                               "--duration", str(warmup + seconds + 600), "--pay-rate", "0.2",
                               "--speed", str(speed)],
                              env.process_env(), env.log_dir / f"soak-simulator-{index}.log"))
        # Each simulator first replays the cars already parked at this hour (tens of thousands of
        # entries in big batches): the window starts once every simulator has sent more than that.
        warm = [int(WARM.search(sim.wait_for(WARM.search, timeout=240)).group(1)) for sim in sims]
        for sim, backlog in zip(sims, warm, strict=True):
            sim.wait_for(lambda line, backlog=backlog: (m := SENT.search(line)) is not None
                         and int(m.group(1)) > backlog, timeout=600)
        say("soak: the simulators' warm-start backlog has drained")
        say(f"soak: connecting {viewers} map viewers…")
        watchers = _Line([sys.executable, "-m", "bench.soak_viewers", "--plan", str(plan)], env.process_env(),
                         env.log_dir / "soak-viewers.log", stdin=True)
        hello = json.loads(watchers.wait_for(lambda line: line.startswith("{"), timeout=300))
        if "error" in hello:
            raise BenchError(f"viewers could not connect: {hello['error']}")
        result.connect_seconds, result.connect_retries = hello["seconds"], hello["retries"]
        for index, pid in enumerate(servers.pids):
            names[f"daphne worker {index + 1}"] = pid
        names |= {"celery worker": celery[0].pid, "celery beat": celery[1].pid, "viewers": watchers.proc.pid}
        names |= {f"simulator {index + 1}": sim.proc.pid for index, sim in enumerate(sims)}
        say(f"soak: warming up for {warmup:.0f} s…")
        time.sleep(warmup)
        for name, pid in names.items():
            result.memory_kib[name] = [tree_rss_kib(pid), 0, 0]
        say(f"soak: measuring for {seconds:.0f} s…")
        window_start = timezone.now()
        sent: dict[str, float] = {}
        with CpuMeter(servers=servers.pids, clients=[watchers.proc.pid, *(s.proc.pid for s in sims),
                                                     *(p.pid for p in celery)]) as meter, \
                httpx.Client(timeout=30) as http:
            began = time.monotonic()
            next_sample = began + 30
            queue = list(sentinels)
            while time.monotonic() - began < seconds:
                time.sleep(rng.uniform(*SENTINEL_GAP_S))
                if time.monotonic() >= next_sample:
                    for name, pid in names.items():
                        memory = result.memory_kib[name]
                        memory[2] = max(memory[2], tree_rss_kib(pid))
                    next_sample += 30
                if not queue or time.monotonic() - began >= seconds:
                    continue
                lot = queue.pop(0)
                free = ParkingLot.objects.values_list("free_berths", flat=True).get(pk=lot.pk)
                if free == 0:  # an entry would not change what the map shows
                    continue
                watchers.send(f"arm {lot.code} {free - 1}")
                vehicle = plates()
                while vehicle.plate is None:
                    vehicle = plates()
                body = json.dumps({"events": [_entry(lot.code, vehicle.plate, vehicle.plate_color)]},
                                  ensure_ascii=False).encode()
                headers = {"Content-Type": "application/json",
                           **signed_headers(device.access_key, secret, "POST", PATH, body)}
                started = time.monotonic()
                try:
                    response = http.post(servers.http_urls[len(sent) % len(servers.http_urls)] + PATH,
                                         content=body, headers=headers)
                except httpx.HTTPError:
                    result.sentinel_failures += 1
                    continue
                result.post_latencies.append(time.monotonic() - started)
                if response.status_code != 200 or response.json().get("accepted") != 1:
                    result.sentinel_failures += 1
                    continue
                sent[lot.code] = started
                result.expected += sum(_inside(box, lot) for box in boxes)
            window_end = timezone.now()
            time.sleep(3.0)  # the last sentinel's push
        result.cpu = meter.percent
        for name, pid in names.items():
            memory = result.memory_kib[name]
            memory[1] = tree_rss_kib(pid)
            memory[2] = max(memory[2], memory[1])
        watchers.send("stop")
        report = json.loads(watchers.wait_for(lambda line: line.startswith('{"received"'), timeout=120))
    finally:
        for sim in sims:
            sim.stop()
        if watchers is not None:
            watchers.stop()
        for proc in celery:
            stop_process(proc)

    result.sentinels = len(sent)
    for code, started in sent.items():
        result.latencies += [t - started for t in report["received"].get(code, [])]
    result.closed, result.messages, result.bytes = report["closed"], report["messages"], report["bytes"]
    window = IngestEvent.objects.filter(received_at__gte=window_start, received_at__lt=window_end)
    result.events_stored = window.count()
    result.events_by_type = {row["type"]: row["n"] for row in window.values("type").annotate(n=Count("id"))}
    for sim in sims:
        finals = [line for line in sim.lines if ACCEPTED.search(line)]
        result.sim_failed_sends += sum("发送失败" in line for line in sim.lines)
        if finals:
            accepted, duplicates, rejected = (int(n) for n in ACCEPTED.search(finals[-1]).groups())
            result.sim_accepted += accepted
            result.sim_duplicates += duplicates
            result.sim_rejected += rejected
            result.sim_last_lines.append(finals[-1])
    for index in range(len(servers.pids)):
        result.log_errors[f"daphne worker {index + 1}"] = _errors(env.log_dir / f"daphne-{index}.log")
    for role in ("worker", "beat"):
        result.log_errors[f"celery {role}"] = _errors(env.log_dir / f"soak-celery-{role}.log")
    return result


def _errors(path: Path) -> int:
    with suppress(OSError):
        return sum(("Traceback" in line or '"level": "ERROR"' in line or " ERROR " in line)
                   for line in path.read_text(errors="replace").splitlines())
    return 0


def summary(result: SoakResult) -> list[str]:
    lines = [
        f"soak: {result.viewers} viewers, {result.simulators} simulators × {result.simulated_lots // result.simulators}"
        f" lots at {result.rate:.0f} events/s, {result.seconds:.0f} s measured",
        f"events stored {result.events_stored:,} = {result.event_rate:,.0f}/s ({result.events_by_type})",
        f"simulators: accepted {result.sim_accepted:,}, duplicates {result.sim_duplicates:,}, "
        f"rejected {result.sim_rejected:,}, failed sends {result.sim_failed_sends}",
        f"push: {result.sentinels} sentinels, {len(result.latencies):,} of {result.expected:,} expected receipts "
        f"(missed {result.missed}), p50 {result.p(50) * 1000:.0f} ms, p95 {result.p(95) * 1000:.0f} ms, "
        f"p99 {result.p(99) * 1000:.0f} ms; sentinel POST p50 "
        f"{PushResult.percentile(result.post_latencies, 50) * 1000:.0f} ms, failures {result.sentinel_failures}",
        f"viewers: connected in {result.connect_seconds:.1f} s ({result.connect_retries} handshakes retried), "
        f"dropped {result.closed}, "
        f"{result.messages:,} messages, {result.bytes / 1e6:,.1f} MB",
        "memory (before → after, peak): " + "; ".join(
            f"{name} {m[0] / 1024:.0f} → {m[1] / 1024:.0f} MiB ({result.growth(name):+.1%}), peak {m[2] / 1024:.0f}"
            for name, m in result.memory_kib.items()),
        f"error lines in logs: {result.log_errors}",
    ]
    return lines
