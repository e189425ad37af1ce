"""Ingest throughput: signed batches of 100 events over HTTP, end to end, against plain executemany.

Workload: lots of the demo city, each fed by its own device key. A lot's first batch is 100
entries; every later batch is 50 exits (of the cars that have been in longest) and 50 new
entries, so half the events open sessions and half close them with a fee. Events of one lot are
sent in order by one client worker (a lot system posts sequentially); the workers run in
parallel, two per server process. The first batch of each worker warms its connection and code
paths and is not timed.

Baseline, in the same run, on the same database: the same rows written by plain psycopg
``executemany`` — the event rows, a session row per entry and an UPDATE closing the session per
exit — one transaction per batch of 100, like one request. It is what storing the data costs
without HTTP, signing, validation, fees, occupancy or publishing.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb

from apps.common import plates
from apps.demo.simulation import PlateGenerator, Vehicle
from apps.lots.models import ParkingLot
from apps.lots.services import device_issue
from apps.sessions.models import IngestEvent, ParkingSession
from apps.sessions.signing import signed_headers

from .env import HISTORY_PREFIX, BenchEnv, BenchError, CpuMeter, Servers, settle

PATH = "/api/v1/ingest/events"
TIMESPEC = "seconds"


@dataclass
class IngestResult:
    events: int
    seconds: float
    baseline_events: int
    baseline_seconds: float
    entries: int
    exits: int
    lots: int
    workers: int
    servers: int
    batch_size: int
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    codes: Counter = field(default_factory=Counter)
    releases: Counter = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def baseline_rate(self) -> float:
        return self.baseline_events / self.baseline_seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline_rate


# --- the workload ---------------------------------------------------------------------------

def _plated(gen: PlateGenerator, taken: set[str]) -> Vehicle:
    while True:
        vehicle = gen()
        if vehicle.plate is not None and vehicle.plate not in taken:
            taken.add(vehicle.plate)
            return vehicle


def plan_batches(codes: list[str], *, batches_per_lot: int, batch_size: int, seed: int, prefix: str,
                 now: datetime | None = None) -> dict[str, list[list[dict]]]:
    """Per lot code, its batches in sending order. Times run over the last hours, never ahead.
    Plates depend on the run's ``prefix`` too: a rerun on a kept database must not find its cars
    already parked (an entry of a parked plate supersedes the old stay and moves no count)."""
    rng = random.Random(f"{seed}-{prefix}")
    gen = PlateGenerator(rng)
    taken: set[str] = set()
    now = now or timezone.now()
    # Spread over the last nine hours: a car stays about two batches' worth (an hour with the
    # defaults), so exits are charged by the tariff rather than all falling in its free minutes.
    start = now - timedelta(hours=9)
    step = timedelta(hours=8.5) / max(1, batches_per_lot * batch_size)
    plan: dict[str, list[list[dict]]] = {}
    for code in codes:
        parked: deque[tuple[Vehicle, datetime]] = deque()
        clock = start
        seq = 0
        batches = []
        for number in range(batches_per_lot):
            exits = 0 if number == 0 else batch_size // 2
            batch = []
            for slot in range(batch_size):
                clock += step
                seq += 1
                if slot < exits and parked:
                    vehicle, _entered = parked.popleft()
                    kind = "exit"
                else:
                    vehicle = _plated(gen, taken)
                    parked.append((vehicle, clock))
                    kind = "entry"
                batch.append({"event_id": f"{prefix}-{code}-{seq}", "type": kind, "lot_code": code,
                              "occurred_at": timezone.localtime(clock).isoformat(timespec=TIMESPEC),
                              "plate": vehicle.plate, "plate_color": vehicle.plate_color,
                              "vehicle_class": vehicle.vehicle_class, "gate": "E1" if kind == "entry" else "X1"})
            batches.append(batch)
        plan[code] = batches
    return plan


def bench_lots(count: int, *, offset: int = 0) -> list[ParkingLot]:
    """Open off-street lots with a tariff that no benchmark has parked a car in yet (the past stays
    of ``env.seed_history`` aside), so a run on a kept database starts from the same state as one on
    a fresh database."""
    untouched = ~Exists(ParkingSession.objects.filter(lot=OuterRef("pk")).exclude(
        entry_event_id__startswith=HISTORY_PREFIX))
    lots = list(ParkingLot.objects.filter(untouched, kind=ParkingLot.Kind.OFF_STREET, status=ParkingLot.Status.OPEN,
                                          tariff__isnull=False).order_by("code")[offset:offset + count])
    if len(lots) < count:
        raise BenchError(f"the benchmark database has {len(lots)} unused open off-street lots with a tariff "
                         f"after the first {offset}; {count} are needed (seed_demo --lots more, or drop --keep-db)")
    return lots


def issue_keys(lots: list[ParkingLot], name: str) -> dict[str, tuple[str, str]]:
    keys = {}
    for lot in lots:
        device, secret = device_issue(name=f"{name} {lot.code}", lots=[lot])
        keys[lot.code] = (device.access_key, secret)
    return keys


# --- end to end over HTTP -------------------------------------------------------------------

def _post(client: httpx.Client, key: tuple[str, str], batch: list[dict]) -> dict:
    body = json.dumps({"events": batch}, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", **signed_headers(key[0], key[1], "POST", PATH, body)}
    response = client.post(PATH, content=body, headers=headers)
    if response.status_code != 200:
        raise BenchError(f"POST {PATH} answered {response.status_code}: {response.text[:500]} "
                         f"(the servers' logs: var/bench/daphne-*.log)")
    return response.json()


def run_threads(work, count: int, *, errors: list[BaseException], what: str) -> float:
    """Run ``work(index)`` on ``count`` threads, wait for them (30 minutes at most) and return the
    monotonic time they ended; the first error a thread recorded in ``errors`` is raised here (a
    broken barrier only when nothing else went wrong, since it follows from another thread's error)."""
    threads = [threading.Thread(target=work, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    end = time.monotonic()
    broken = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if broken or errors:
        raise (broken or errors)[0]
    if any(thread.is_alive() for thread in threads):
        raise BenchError(f"{what} did not finish within 30 minutes")
    return end


def tally_response(data: dict, *, counts: Counter, releases: Counter) -> None:
    """Add one ingest response (SPEC §3.2) to the run's result counts and exit release reasons."""
    counts["accepted"] += data["accepted"]
    counts["duplicates"] += data["duplicates"]
    counts["rejected"] += data["rejected"]
    for result in data["results"]:
        if result["status"] == "rejected":
            counts["code:" + result.get("error", {}).get("code", "?")] += 1
        if result.get("session"):
            releases[result["session"]["release_reason"]] += 1


def run_http(servers: Servers, plan: dict[str, list[list[dict]]], keys: dict[str, tuple[str, str]], *,
             per_server: int = 2) -> tuple[int, float, Counter, Counter, dict[str, float]]:
    """Send the plan; returns (timed events, seconds, result counts, release reasons, CPU use)."""
    urls = servers.http_urls
    workers = len(urls) * per_server
    codes = sorted(plan)
    owned = [codes[index::workers] for index in range(workers)]
    if any(not mine for mine in owned):
        raise BenchError(f"{len(codes)} lots cannot keep {workers} workers busy")
    counts: Counter = Counter()
    releases: Counter = Counter()
    timed = [0] * workers
    errors: list[BaseException] = []
    lock = threading.Lock()
    clock: dict[str, float] = {}
    meter = CpuMeter(servers=servers.pids)

    def go() -> None:  # every worker has warmed up: the timed part starts
        meter.start()
        clock["start"] = time.monotonic()

    barrier = threading.Barrier(workers, action=go)

    def tally(data: dict) -> None:
        with lock:
            tally_response(data, counts=counts, releases=releases)

    def work(index: int) -> None:
        mine = owned[index]
        queues = {code: deque(plan[code]) for code in mine}
        try:
            with httpx.Client(base_url=urls[index % len(urls)], timeout=120) as client:
                tally(_post(client, keys[mine[0]], queues[mine[0]].popleft()))  # warm-up, not timed
                barrier.wait(timeout=300)
                while any(queues.values()):
                    for code in mine:
                        if queues[code]:
                            batch = queues[code].popleft()
                            tally(_post(client, keys[code], batch))
                            timed[index] += len(batch)
        except BaseException as exc:  # report it from the main thread
            errors.append(exc)
            barrier.abort()

    end = run_threads(work, workers, errors=errors, what="ingest workers")
    meter.__exit__(None, None, None)
    return sum(timed), end - clock["start"], counts, releases, meter.percent


# --- the baseline ---------------------------------------------------------------------------

def _columns(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _insert(model: type[models.Model]) -> tuple[sql.Composed, list[str]]:
    fields = _columns(model)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields),
        sql.SQL(", ").join(sql.Placeholder() * len(fields)))
    return query, [f.attname for f in fields]


def _row(model: type[models.Model], attnames: list[str], values: dict) -> tuple:
    fields = {f.attname: f for f in _columns(model)}
    row = []
    for name in attnames:
        value = values[name] if name in values else fields[name].get_default()
        row.append(Jsonb(value) if isinstance(fields[name], models.JSONField) else value)
    return tuple(row)


def run_baseline(env: BenchEnv, plan: dict[str, list[list[dict]]], lot_ids: dict[str, int],
                 device_id: int | None) -> tuple[int, float]:
    """The same rows with plain psycopg executemany, one transaction per batch; (events, seconds)."""
    event_sql, event_cols = _insert(IngestEvent)
    session_sql, session_cols = _insert(ParkingSession)
    # Close the open session of that plate in that lot, as the exit does.
    close_sql = sql.SQL("UPDATE {} SET exit_at = %s, closed_at = %s, state = %s, release_reason = %s, "
                        "exit_event_id = %s, updated_at = %s WHERE lot_id = %s AND plate = %s AND state = %s"
                        ).format(sql.Identifier(ParkingSession._meta.db_table))
    batches = [(code, batch) for code in sorted(plan) for batch in plan[code]]
    events = 0
    with env.connect() as conn:
        conn.execute("SELECT 1")
        started = time.monotonic()
        for code, batch in batches:
            now = timezone.now()
            token = uuid.uuid4()
            lot_id = lot_ids[code]
            event_rows, opened, closed = [], [], []
            for event in batch:
                at = datetime.fromisoformat(event["occurred_at"])
                event_rows.append(_row(IngestEvent, event_cols, {
                    "lot_id": lot_id, "event_id": event["event_id"], "type": event["type"], "occurred_at": at,
                    "received_at": now, "device_id": device_id, "batch": token, "plate": event["plate"],
                    "session_id": None, "payload": event}))
                if event["type"] == "entry":
                    opened.append(_row(ParkingSession, session_cols, {
                        "lot_id": lot_id, "plate": event["plate"], "ticket_id": "",
                        "plate_color": event["plate_color"], "vehicle_class": event["vehicle_class"],
                        "new_energy": plates.is_new_energy(event["plate"]), "entry_at": at, "state": "open",
                        "entry_event_id": event["event_id"], "created_at": now, "updated_at": now}))
                else:
                    closed.append((at, at, "closed", "paid", event["event_id"], now, lot_id, event["plate"], "open"))
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(event_sql, event_rows)
                if closed:
                    cur.executemany(close_sql, closed)
                    if cur.rowcount != len(closed):
                        raise BenchError(f"baseline: {cur.rowcount} of {len(closed)} exits found their session")
                if opened:
                    cur.executemany(session_sql, opened)
            events += len(batch)
        return events, time.monotonic() - started


# --- the benchmark --------------------------------------------------------------------------

def run(env: BenchEnv, servers: Servers, *, lots: int = 20, batches_per_lot: int = 16, batch_size: int = 100,
        per_server: int = 2, seed: int = 1, say=print) -> IngestResult:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    http_lots = bench_lots(lots)
    base_lots = bench_lots(lots, offset=lots)
    say(f"ingest: issuing {lots} device keys…")
    keys = issue_keys(http_lots, "基准测试")
    plan = plan_batches([lot.code for lot in http_lots], batches_per_lot=batches_per_lot, batch_size=batch_size,
                        seed=seed, prefix=prefix)
    base_plan = plan_batches([lot.code for lot in base_lots], batches_per_lot=batches_per_lot,
                             batch_size=batch_size, seed=seed, prefix=prefix)
    kinds = Counter(event["type"] for batches in plan.values() for batch in batches for event in batch)
    say(f"ingest: {sum(kinds.values())} events over HTTP ({len(servers.ports)} servers × {per_server} workers)…")
    settle(env)
    events, seconds, counts, releases, cpu = run_http(servers, plan, keys, per_server=per_server)
    say(f"ingest: baseline executemany of {sum(kinds.values())} events…")
    device = http_lots[0].devices.order_by("pk").values_list("pk", flat=True).first()
    settle(env)
    base_events, base_seconds = run_baseline(env, base_plan, {lot.code: lot.pk for lot in base_lots}, device)
    return IngestResult(
        events=events, seconds=seconds, baseline_events=base_events, baseline_seconds=base_seconds,
        entries=kinds["entry"], exits=kinds["exit"], lots=lots, workers=len(servers.ports) * per_server,
        servers=len(servers.ports), batch_size=batch_size, accepted=counts["accepted"],
        duplicates=counts["duplicates"], rejected=counts["rejected"],
        codes=Counter({k[5:]: v for k, v in counts.items() if k.startswith("code:")}), releases=releases, cpu=cpu)
