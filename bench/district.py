"""District platforms: several lot systems' data forwarded by one platform, over HTTP, end to end.

The city's network has two levels: a district platform forwards the events of many lots under one
device key. Two workloads, each run ``runs`` times on the same lots (counts reset in between):

- **spread**: ``platforms`` platforms (8) post at once, each with its own key for its own
  ``lots_per_platform`` lots (100); each posts its batches of 100 in order on one connection, every
  batch spanning its lots, 45% exits (of the cars that have been in longest) and 55% entries.
- **shared**: one platform posts on ``platforms`` connections at once to the same 100 lots (one
  key); each connection carries its own cars, so an exit never overtakes its entry, but concurrent
  batches touch the same lot rows.

Each connection's first batch (100 entries) warms up and is not timed. After every run the database
is checked: one event row per event sent, one session per entry, one ended stay per exit, and each
lot's ``free_berths`` equal to its total minus the cars of the run still parked (nothing lost,
nothing counted twice).

Where the time goes, measured in the same run (PostgreSQL): ``pg_stat_statements`` is reset before
each variant's last run and its top statements by total execution time read after it; meanwhile a
sampler reads ``pg_stat_activity`` every 20 ms and counts what the benchmark's backends were
waiting on (``Lock/transactionid``, ``LWLock/WALWrite``, ``IO/WALSync``, …, or on CPU).
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import psycopg
from django.db.models import Count, F
from django.utils import timezone

from apps.lots.models import ParkingLot
from apps.lots.services import device_issue
from apps.sessions.models import IngestEvent, ParkingSession
from apps.sessions.signing import signed_headers

from .env import BenchEnv, BenchError, CpuMeter, Servers, settle
from .ingest import PATH, TIMESPEC, PlateGenerator, _plated, bench_lots, run_threads, tally_response

EXIT_SHARE = 0.45
VARIANTS = ("spread", "shared")


@dataclass
class DistrictRun:
    events: int
    seconds: float
    accepted: int
    duplicates: int
    rejected: int
    checks: dict[str, int]
    problems: list[str]
    cpu: dict[str, float]
    releases: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass
class DistrictResult:
    variant: str
    platforms: int
    connections: int
    lots: int
    batch_size: int
    batches: int
    servers: int
    runs: list[DistrictRun]
    statements: list[dict] = field(default_factory=list)
    waits: dict[str, int] = field(default_factory=dict)
    wait_samples: int = 0
    profiled_batches: int = 0
    profile_note: str = ""

    @property
    def rates(self) -> list[float]:
        return [run.rate for run in self.runs]

    @property
    def median_rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def problems(self) -> list[str]:
        return [problem for run in self.runs for problem in run.problems]


# --- the workload ---------------------------------------------------------------------------

@dataclass
class Poster:
    """One connection of a platform: its key and its batches in sending order, bodies encoded."""

    key: tuple[str, str]
    bodies: list[bytes]
    sizes: list[int]
    kinds: Counter = field(default_factory=Counter)
    net: Counter = field(default_factory=Counter)  # lot code → cars of this run still parked


def plan_poster(key: tuple[str, str], codes: list[str], *, batches: int, batch_size: int, rng: random.Random,
                prefix: str, start: datetime, step: timedelta, taken: set[str]) -> Poster:
    """``batches`` batches (the first all entries, the others ``EXIT_SHARE`` exits), each spanning
    ``codes`` from a rotating offset; exits are of this poster's own cars, oldest first."""
    gen = PlateGenerator(rng)
    poster = Poster(key=key, bodies=[], sizes=[])
    parked: deque[tuple[str, object]] = deque()
    clock, seq, offset = start, 0, rng.randrange(len(codes))
    exits_per_batch = round(batch_size * EXIT_SHARE)
    for number in range(batches):
        exits = 0 if number == 0 else min(exits_per_batch, len(parked))
        slots = ["exit"] * exits + ["entry"] * (batch_size - exits)
        rng.shuffle(slots)
        events = []
        for kind in slots:
            clock += step
            seq += 1
            if kind == "exit":
                code, vehicle = parked.popleft()
                poster.net[code] -= 1
            else:
                code = codes[offset % len(codes)]
                offset += 1
                vehicle = _plated(gen, taken)
                parked.append((code, vehicle))
                poster.net[code] += 1
            poster.kinds[kind] += 1
            events.append({"event_id": f"{prefix}-{seq}", "type": kind, "lot_code": code,
                           "occurred_at": timezone.localtime(clock).isoformat(timespec=TIMESPEC),
                           "plate": vehicle.plate, "plate_color": vehicle.plate_color,
                           "vehicle_class": vehicle.vehicle_class, "gate": "E1" if kind == "entry" else "X1"})
        poster.bodies.append(json.dumps({"events": events}, ensure_ascii=False, separators=(",", ":")).encode())
        poster.sizes.append(len(events))
    return poster


def plan(variant: str, keys: list[tuple[str, str]], lot_groups: list[list[str]], *, connections: int, batches: int,
         batch_size: int, seed: int, prefix: str, taken: set[str] | None = None) -> list[Poster]:
    """The posters of one run. ``spread``: one per key, each with its own lots; ``shared``: ``connections``
    posters on the first key and its lots. Event ids are unique to the run (``prefix``); plates are
    never one of ``taken`` (the earlier runs' plates, which this adds to): a car of an earlier run
    still parked in the lot, with a later entry time, would turn this run's entry into a late
    event that supersedes nothing and its exit into one for staff review, as SPEC §3.2 says."""
    rng = random.Random(f"{seed}-{prefix}")
    taken = set() if taken is None else taken
    now = timezone.now()
    start = now - timedelta(hours=9)  # all in the past: stays are charged by the tariff, none ahead
    step = timedelta(hours=8.5) / max(1, batches * batch_size)
    pairs = (list(zip(keys, lot_groups, strict=True)) if variant == "spread"
             else [(keys[0], lot_groups[0])] * connections)
    return [plan_poster(key, codes, batches=batches, batch_size=batch_size, rng=rng, prefix=f"{prefix}-{index}",
                        start=start, step=step, taken=taken)
            for index, (key, codes) in enumerate(pairs)]


# --- sending --------------------------------------------------------------------------------

def send(servers: Servers, posters: list[Poster], *, meter: CpuMeter,
         on_start=None) -> tuple[int, float, Counter, Counter]:
    """Every poster on its own connection at once (alternating between the servers); the first batch of
    each is warm-up. Returns (timed events, seconds, result counts, release reasons)."""
    urls = servers.http_urls
    counts: Counter = Counter()
    releases: Counter = Counter()
    timed = [0] * len(posters)
    errors: list[BaseException] = []
    lock = threading.Lock()
    clock: dict[str, float] = {}

    def go() -> None:
        meter.start()
        if on_start is not None:
            on_start()
        clock["start"] = time.monotonic()

    barrier = threading.Barrier(len(posters), action=go)

    def post(client: httpx.Client, poster: Poster, body: bytes) -> None:
        headers = {"Content-Type": "application/json", **signed_headers(*poster.key, "POST", PATH, body)}
        response = client.post(PATH, content=body, headers=headers)
        if response.status_code != 200:
            raise BenchError(f"POST {PATH} answered {response.status_code}: {response.text[:500]} "
                             f"(the servers' logs: var/bench/daphne-*.log)")
        data = response.json()
        with lock:
            tally_response(data, counts=counts, releases=releases)

    def work(index: int) -> None:
        poster = posters[index]
        try:
            with httpx.Client(base_url=urls[index % len(urls)], timeout=120) as client:
                post(client, poster, poster.bodies[0])
                barrier.wait(timeout=300)
                for body, size in zip(poster.bodies[1:], poster.sizes[1:], strict=True):
                    post(client, poster, body)
                    timed[index] += size
        except BaseException as exc:  # reported from the main thread
            errors.append(exc)
            barrier.abort()

    end = run_threads(work, len(posters), errors=errors, what="district posters")
    meter.__exit__(None, None, None)
    return sum(timed), end - clock["start"], counts, releases


# --- checking the database ------------------------------------------------------------------

def reset_counts(lot_ids: list[int]) -> None:
    """Every lot of the run starts empty (free = total), so its count after the run says exactly
    how many of the run's cars are still parked."""
    ParkingLot.objects.filter(pk__in=lot_ids).update(free_berths=F("total_berths"))


def check(posters: list[Poster], *, prefix: str, lots: dict[str, ParkingLot]) -> tuple[dict[str, int], list[str]]:
    """What the database holds for this run against what was sent; the problems found.

    A lot's count after the run must be its total minus the run's cars still in it: those whose stay
    is open, or that stand at the exit barrier until they pay (an ``unpaid`` exit opens no barrier and
    moves no count)."""
    kinds = sum((poster.kinds for poster in posters), Counter())
    net = sum((poster.net for poster in posters), Counter())
    sent = kinds["entry"] + kinds["exit"]
    events = IngestEvent.objects.filter(event_id__startswith=f"{prefix}-").count()
    sessions = ParkingSession.objects.filter(entry_event_id__startswith=f"{prefix}-")
    opened = sessions.count()
    ended = sessions.filter(exit_at__isnull=False).count()
    inside = Counter(dict(
        sessions.filter(state__in=[ParkingSession.State.OPEN, ParkingSession.State.AWAITING_PAYMENT])
        .values("lot__code").annotate(n=Count("pk")).values_list("lot__code", "n")))
    free = dict(ParkingLot.objects.filter(pk__in=[lot.pk for lot in lots.values()]).values_list("code", "free_berths"))
    wrong = [code for code, lot in lots.items() if free[code] != max(0, lot.total_berths - inside[code])]
    planned_inside = sum(max(0, n) for n in net.values())
    checks = {"events sent": sent, "event rows": events, "entries": kinds["entry"], "sessions": opened,
              "exits": kinds["exit"], "stays ended": ended, "cars planned inside": planned_inside,
              "cars inside or at the barrier": sum(inside.values()), "lots": len(lots),
              "lots with a wrong count": len(wrong)}
    problems = []
    if events != sent:
        problems.append(f"{events} event rows for {sent} events sent")
    if opened != kinds["entry"]:
        problems.append(f"{opened} sessions for {kinds['entry']} entries")
    if ended != kinds["exit"]:
        problems.append(f"{ended} ended stays for {kinds['exit']} exits")
    if wrong:
        problems.append(f"{len(wrong)} lots' free_berths differ from total − cars inside (e.g. {wrong[:3]})")
    return checks, problems


# --- where the time goes --------------------------------------------------------------------

def _database_name(env: BenchEnv) -> str:
    return urlsplit(env.psycopg_conninfo()).path.lstrip("/")


def statements_ready(env: BenchEnv) -> str:
    """'' when pg_stat_statements can be read in the benchmark database, else why not."""
    try:
        with env.connect(autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
    except psycopg.Error as exc:
        return f"pg_stat_statements is not available ({str(exc).strip().splitlines()[0]})"
    return ""


def top_statements(env: BenchEnv, *, limit: int = 12) -> list[dict]:
    with env.connect(autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.query, s.calls, s.total_exec_time, s.rows, "
            "100 * s.total_exec_time / NULLIF(sum(s.total_exec_time) OVER (), 0) "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database() ORDER BY s.total_exec_time DESC LIMIT %s", (limit,)).fetchall()
        total = conn.execute(
            "SELECT sum(total_exec_time), sum(calls) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database()").fetchone()
    statements = [{"query": " ".join(query.split()), "calls": calls, "total_ms": total_ms, "rows": nrows,
                   "share": share or 0.0} for query, calls, total_ms, nrows, share in rows]
    if statements:
        statements[0]["all_total_ms"], statements[0]["all_calls"] = float(total[0] or 0), int(total[1] or 0)
    return statements


class WaitSampler:
    """Samples what the benchmark database's active backends wait on, every ``interval`` seconds."""

    def __init__(self, env: BenchEnv, interval: float = 0.02):
        self.env, self.interval = env, interval
        self.waits: Counter = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        name = _database_name(self.env)
        with self.env.connect(autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || '/' || wait_event, 'CPU (no wait)') FROM pg_stat_activity "
                    "WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()", (name,)).fetchall()
                self.samples += 1
                self.waits.update(row[0] for row in rows)
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


# --- the benchmark --------------------------------------------------------------------------

def run(env: BenchEnv, servers: Servers, *, variants: tuple[str, ...] = VARIANTS, platforms: int = 8,
        lots_per_platform: int = 100, batches: int = 13, batch_size: int = 100, runs: int = 3, seed: int = 1,
        profile: bool = True, say=print) -> dict[str, DistrictResult]:
    """Each variant ``runs`` times; ``batches`` per connection, the first of them warm-up."""
    groups_needed = platforms if "spread" in variants else 1
    chosen = bench_lots(groups_needed * lots_per_platform)
    groups = [chosen[i * lots_per_platform:(i + 1) * lots_per_platform] for i in range(groups_needed)]
    say(f"district: issuing {groups_needed} platform keys for {lots_per_platform} lots each…")
    keys = []
    for index, group in enumerate(groups):
        device, secret = device_issue(name=f"基准测试 区级平台 {index + 1}", lots=group)
        keys.append((device.access_key, secret))
    codes = [[lot.code for lot in group] for group in groups]
    note = statements_ready(env) if profile else "profiling off (--no-profile)"
    plates: set[str] = set()  # every run's cars are new to the lots
    results = {}
    for variant in variants:
        used = groups if variant == "spread" else groups[:1]
        lots = {lot.code: lot for group in used for lot in group}
        connections = platforms
        result = DistrictResult(variant=variant, platforms=platforms if variant == "spread" else 1,
                                connections=connections, lots=len(lots), batch_size=batch_size, batches=batches,
                                servers=len(servers.ports), runs=[], profile_note=note)
        for number in range(runs):
            prefix = f"d{uuid.uuid4().hex[:6]}"
            posters = plan(variant, keys, codes, connections=connections, batches=batches, batch_size=batch_size,
                           seed=seed + number, prefix=prefix, taken=plates)
            reset_counts([lot.pk for lot in lots.values()])
            settle(env)
            profiled = profile and not note and number == runs - 1
            sampler = WaitSampler(env) if profiled else None
            if profiled:
                with env.connect(autocommit=True) as conn:
                    conn.execute("SELECT pg_stat_statements_reset()")
            meter = CpuMeter(servers=servers.pids)
            say(f"district {variant} run {number + 1}/{runs}: {sum(sum(p.sizes) for p in posters):,} events on "
                f"{len(posters)} connections…")
            try:
                events, seconds, counts, releases = send(servers, posters, meter=meter,
                                                         on_start=sampler.start if sampler else None)
            finally:
                if sampler is not None:
                    sampler.stop()
            if profiled:
                result.statements = top_statements(env)
                result.waits, result.wait_samples = dict(sampler.waits.most_common()), sampler.samples
                result.profiled_batches = sum(len(p.bodies) for p in posters)
            checks, problems = check(posters, prefix=prefix, lots=lots)
            if counts["rejected"] or counts["duplicates"]:
                problems.append(f"{counts['rejected']} rejected, {counts['duplicates']} duplicates "
                                f"({', '.join(k for k in counts if k.startswith('code:'))})")
            run_result = DistrictRun(events=events, seconds=seconds, accepted=counts["accepted"],
                                     duplicates=counts["duplicates"], rejected=counts["rejected"], checks=checks,
                                     problems=problems, cpu=meter.percent, releases=dict(releases))
            result.runs.append(run_result)
            say(f"district {variant} run {number + 1}: {run_result.rate:,.0f} events/s"
                + (f"; PROBLEMS: {'; '.join(problems)}" if problems else "; counts check out"))
        results[variant] = result
    return results
