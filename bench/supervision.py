"""One data-quality supervision pass at city scale (issue 11 item 1): ``engine.rules_run`` over
``lots`` lots (8,400 by default) with a day of raw events behind them.

Data, generated server-side by ``INSERT … SELECT`` over ``generate_series`` (no row crosses the
wire), one hour at a time in the order ingest appends them (``received_at`` a few seconds after
``occurred_at``):

- lots up to ``lots`` (the seeded demo lots plus generated ones), open all day, heard a moment ago;
- ``IngestEvent``: every five minutes for ``hours`` hours, per lot, one ``lot_status`` snapshot, one
  heartbeat and 0–2 entries and as many exits (``lot id % 3``): about 4 rows per lot per five minutes,
  9.7 million rows a day for 8,400 lots (112 rows a second on average: a day's mean, peaks are higher);
- ``ParkingSession``: an open stay for a quarter of each lot's berths (a few from a week ago), and a
  closed stay per entry of the last ``session_days`` days (one in fifty without its entry);
- ``LotHour`` for the last 28 days (the ``silent`` rule's history) and ``OccupancySample`` every five
  minutes for the last 12 hours (``frozen_free``);
- faults on purpose, so each rule has something to find: one lot in 97 went quiet 90 minutes ago
  (heartbeats, no entries or exits), one in 89 reports free counts that wander from its moves, one
  in 83 has a frozen free count.

With ``--keep-db`` and the data already there (same lots and hours), it is reused. Then
``ANALYZE``, one priming pass (it raises the cases; later passes continue them) and ``runs`` timed
passes, each rule timed on its own. Baseline in the same run: a plain ``count(*)`` over the day's
events (``received_at`` in the last ``hours``), ``runs`` times. ``EXPLAIN (ANALYZE, BUFFERS)`` of each
detector's SQL is written to ``var/bench/supervision-explain.txt``. The generated rows stay in the
benchmark database (it is recreated on the next full run); the cases the passes raised are deleted.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.db.models import Count
from django.utils import timezone
from psycopg import sql

from .env import BenchError

HOURS = 24
SESSION_DAYS = 2
HISTORY_DAYS = 28
SAMPLE_HOURS = 12
TICK_MINUTES = 5
PERIOD_S = 300.0  # CELERY_BEAT_SCHEDULE["supervise-data-quality"]


@dataclass
class SupervisionResult:
    lots: int
    events: int
    sessions: int
    lot_hours: int
    samples: int
    setup_s: float
    prime_s: float
    pass_s: list[float]
    rule_s: dict[str, list[float]]
    baseline_count_s: list[float]
    found: dict[str, int]
    period_s: float = PERIOD_S
    indexes: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # in this process: its figures are times, not shares


def _tables():
    from apps.analytics.models import LotHour, OccupancySample
    from apps.lots.models import ParkingLot
    from apps.sessions.models import IngestEvent, ParkingSession

    return {name: sql.Identifier(model._meta.db_table) for name, model in (
        ("lot", ParkingLot), ("event", IngestEvent), ("session", ParkingSession), ("hour", LotHour),
        ("sample", OccupancySample))}


def _add_lots(lots: int, now, say) -> None:
    from apps.lots.models import ParkingLot
    from apps.regions.models import Region

    have = ParkingLot.objects.count()
    districts = list(Region.objects.filter(parent__level=Region.Level.CITY).values_list("pk", flat=True))
    if not districts:
        raise BenchError("no districts: the benchmark database was not seeded")
    if have < lots:
        say(f"supervision: adding {lots - have} lots to the {have} seeded…")
        ParkingLot.objects.bulk_create([
            ParkingLot(code=f"SV-{n:05d}", name=f"督查基准停车场{n}", region_id=districts[n % len(districts)],
                       category="public", filing_status="filed", compliance_level="standard",
                       lat=31.45 + (n % 97) * 0.003, lon=120.15 + (n % 89) * 0.003, total_berths=50 + n % 400,
                       free_berths=10)
            for n in range(lots - have)], batch_size=2000)
    # Every lot open all day and heard a moment ago: each rule judges every lot.
    ParkingLot.objects.update(status=ParkingLot.Status.OPEN, opening_hours="00:00-24:00", last_seen_at=now,
                              snapshot_at=now, offline_since=None)


def _filled(cur, t, lots: int, hours: int) -> bool:
    cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE event_id LIKE 'sv-%'").format(t["event"]))
    events = cur.fetchone()[0]
    return bool(events) and events >= lots * hours * (60 // TICK_MINUTES) * 2


def _fill(env, lots: int, hours: int, session_days: int, say):
    """The dataset; returns the pass's ``now`` (just after the newest event)."""
    from django.conf import settings

    t = _tables()
    with env.connect() as conn, conn.cursor() as cur:
        if _filled(cur, t, lots, hours):
            cur.execute(sql.SQL("SELECT received_at FROM {} ORDER BY id DESC LIMIT 1").format(t["event"]))
            now = cur.fetchone()[0] + timedelta(seconds=30)
            say("supervision: --keep-db and the events are already there: reusing them")
            _add_lots(lots, now, say)
            return now
    now = timezone.now().replace(microsecond=0)
    _add_lots(lots, now, say)
    end = now - timedelta(seconds=30)
    start = end - timedelta(hours=hours)
    tz = settings.TIME_ZONE
    with env.connect() as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("TRUNCATE {}, {}").format(t["hour"], t["sample"]))
        cur.execute(sql.SQL("DELETE FROM {} WHERE event_id LIKE 'sv-%'").format(t["event"]))
        cur.execute(sql.SQL("DELETE FROM {} WHERE entry_event_id LIKE 'sv-%' OR ticket_id LIKE 'sv-%'")
                    .format(t["session"]))
        conn.commit()
        say(f"supervision: {hours} hours of events for {lots} lots, an hour at a time…")
        t0 = time.monotonic()
        for h in range(hours):
            lo, hi = start + timedelta(hours=h), start + timedelta(hours=h + 1)
            # k = lot id % 3 entries and as many exits per tick; quiet lots (id % 97 = 0) send no
            # moves in the last 90 minutes; wandering lots (id % 89 = 0) report free counts off their moves.
            cur.execute(sql.SQL("""
                INSERT INTO {ev} (lot_id, event_id, type, occurred_at, received_at, batch, plate, payload)
                SELECT l.id, 'sv-' || x.kind || '-' || extract(epoch FROM s.t)::bigint || '-' || x.n,
                       x.kind, s.t + make_interval(secs => x.n * 7),
                       s.t + make_interval(secs => x.n * 7 + 1 + (l.id %% 5)), gen_random_uuid(),
                       CASE WHEN x.kind IN ('entry', 'exit') THEN '苏B' || lpad((l.id * 31 + x.n)::text, 5, '0') END,
                       CASE x.kind
                         WHEN 'lot_status' THEN jsonb_build_object('free_berths',
                              CASE WHEN l.id %% 89 = 0 THEN (l.total_berths
                                   * ((extract(epoch FROM s.t)::bigint / 300) %% 144) / 144)::int
                                   ELSE l.total_berths / 2 END, 'total_berths', l.total_berths)
                         WHEN 'heartbeat' THEN '{{}}'::jsonb
                         ELSE jsonb_build_object('plate', '苏B' || lpad((l.id * 31 + x.n)::text, 5, '0')) END
                FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - interval '1 second',
                                     interval '{tick} minutes') s(t)
                CROSS JOIN {lot} l
                CROSS JOIN LATERAL (
                    SELECT 'lot_status'::text, 0 UNION ALL SELECT 'heartbeat', 1
                    UNION ALL SELECT 'entry', 2 + g FROM generate_series(0, l.id %% 3 - 1) g
                    UNION ALL SELECT 'exit', 4 + g FROM generate_series(0, l.id %% 3 - 1) g) x(kind, n)
                WHERE NOT (x.kind IN ('entry', 'exit') AND l.id %% 97 = 0 AND s.t >= %(quiet)s)
                ORDER BY s.t, l.id, x.n""").format(ev=t["event"], lot=t["lot"], tick=sql.Literal(TICK_MINUTES)),
                {"lo": lo, "hi": hi, "quiet": end - timedelta(minutes=90)})
            conn.commit()
            if h % 6 == 5:
                say(f"supervision: {h + 1} hours of events ({time.monotonic() - t0:.0f} s)")
        say("supervision: sessions…")
        cur.execute(sql.SQL("""
            INSERT INTO {se} (lot_id, plate, ticket_id, plate_color, vehicle_class, new_energy, entry_at, exit_at,
                closed_at, amount_fen, paid_fen, waived_fen, due_fen, state, release_reason, entry_event_id,
                exit_event_id, created_at, updated_at)
            SELECT l.id, '苏A' || l.id || '-' || g, '', 'blue', 'small', false,
                   CASE WHEN g %% 50 = 0 THEN %(now)s - interval '7 days'
                        ELSE %(now)s - make_interval(mins => g %% 600) END,
                   NULL, NULL, 0, 0, 0, 0, 'open', '', 'sv-open-' || g, '', %(now)s, %(now)s
            FROM {lot} l, generate_series(1, greatest(1, l.total_berths / 4)) g""").format(
                se=t["session"], lot=t["lot"]), {"now": now})
        cur.execute(sql.SQL("""
            INSERT INTO {se} (lot_id, plate, ticket_id, plate_color, vehicle_class, new_energy, entry_at, exit_at,
                closed_at, amount_fen, paid_fen, waived_fen, due_fen, state, release_reason, entry_event_id,
                exit_event_id, created_at, updated_at)
            SELECT l.id, '苏C' || l.id || '-' || g, '', 'blue', 'small', false,
                   CASE WHEN g %% 50 = 0 THEN NULL ELSE x - interval '2 hours' END, x, x, 500, 500, 0, 0,
                   CASE WHEN g %% 50 = 0 THEN 'review' ELSE 'closed' END,
                   CASE WHEN g %% 50 = 0 THEN 'review' ELSE 'paid' END, 'sv-closed-' || g, 'sv-exit-' || g, x, x
            FROM {lot} l, generate_series(1, %(per_lot)s * (l.id %% 3)) g,
                 LATERAL (SELECT %(now)s - make_interval(secs => (g * 86400 * %(days)s) / (%(per_lot)s * 3)) x) e
            """).format(se=t["session"], lot=t["lot"]),
            {"now": now, "per_lot": session_days * 288 // 2, "days": session_days})
        conn.commit()
        say("supervision: 28 days of lot hours, 12 hours of samples…")
        hour_now = now.replace(minute=0, second=0)
        cur.execute(sql.SQL("""
            INSERT INTO {hr} (lot_id, hour, weekday, hour_of_day, total_berths, occupied_avg, occupied_max,
                samples, entries, exits)
            SELECT l.id, h, extract(isodow FROM h AT TIME ZONE %(tz)s)::int - 1,
                   extract(hour FROM h AT TIME ZONE %(tz)s)::int, l.total_berths, l.total_berths / 2,
                   l.total_berths, 12, 12 * (l.id %% 3), 12 * (l.id %% 3)
            FROM {lot} l, generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz, interval '1 hour') h
            """).format(hr=t["hour"], lot=t["lot"]),
            {"tz": tz, "lo": hour_now - timedelta(days=HISTORY_DAYS), "hi": hour_now - timedelta(hours=1)})
        cur.execute(sql.SQL("""
            INSERT INTO {sa} (lot_id, at, free_berths, total_berths, online)
            SELECT l.id, s, CASE WHEN l.id %% 83 = 0 THEN 7 ELSE (random() * l.total_berths)::int END,
                   l.total_berths, true
            FROM {lot} l, generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz, interval '5 minutes') s
            """).format(sa=t["sample"], lot=t["lot"]),
            {"lo": end - timedelta(hours=SAMPLE_HOURS), "hi": end})
        conn.commit()
    return now


def _counts(env) -> dict[str, int]:
    t = _tables()
    with env.connect() as conn:
        return {name: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t[name])).fetchone()[0]
                for name in ("lot", "event", "session", "hour", "sample")}


def _clear_cases() -> None:
    from apps.analytics.models import CaseChange, SupervisionCase

    SupervisionCase.objects.update(last_change=None)
    CaseChange.objects.all().delete()
    SupervisionCase.objects.all().delete()


def _baseline(env, hours: int, now) -> float:
    t = _tables()
    with env.connect() as conn:
        t0 = time.perf_counter()
        conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE received_at >= %s AND received_at < %s")
                     .format(t["event"]), [now - timedelta(hours=hours), now]).fetchone()
        return time.perf_counter() - t0


def _explain(env, now, path) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each detector's queries, in a file beside the raw figures."""
    from django.test.utils import CaptureQueriesContext

    from apps.analytics.models import SupervisionRule
    from apps.analytics.supervision.detectors import DETECTORS

    out = []
    for rule in SupervisionRule.objects.order_by("code"):
        with CaptureQueriesContext(connection) as captured:
            DETECTORS[rule.code](rule, now=now)
        for query in captured.captured_queries:
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cur.fetchall())
            out.append(f"== {rule.code} ({float(query['time']) * 1000:.0f} ms)\n{query['sql']}\n\n{plan}\n")
    path.write_text("\n".join(out))


def _indexes(env) -> list[str]:
    with env.connect() as conn:
        return [row[0] for row in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'parking_sessions_ingestevent' ORDER BY indexname")]


def run(env, servers=None, *, lots: int = 8400, hours: int = HOURS, session_days: int = SESSION_DAYS,
        runs: int = 5, say=print) -> SupervisionResult:
    from apps.analytics.models import SupervisionCase, SupervisionRule
    from apps.analytics.supervision import engine

    started = time.monotonic()
    now = _fill(env, lots, hours, session_days, say)
    with env.connect(autocommit=True) as conn:
        conn.execute("ANALYZE")
    counts = _counts(env)
    setup_s = time.monotonic() - started
    say(f"supervision: data ready in {setup_s:.0f} s ({counts['event']:,} events, {counts['session']:,} sessions); "
        f"{runs} timed passes…")
    _clear_cases()
    try:
        t0 = time.perf_counter()
        engine.rules_run(now=now)
        prime_s = time.perf_counter() - t0
        found = dict(SupervisionCase.objects.values_list("rule__code").annotate(n=Count("pk")).order_by())
        rules = list(SupervisionRule.objects.order_by("code"))
        pass_s, rule_s, baseline = [], {r.code: [] for r in rules}, []
        for n in range(runs):  # each timed pass a few seconds after the last, like the next beat
            at = now + timedelta(seconds=10 * (n + 1))
            t0 = time.perf_counter()
            for rule in rules:
                r0 = time.perf_counter()
                engine.rule_run(rule=rule, now=at)
                rule_s[rule.code].append(time.perf_counter() - r0)
            engine.cases_autoclose(now=at)
            pass_s.append(time.perf_counter() - t0)
            baseline.append(_baseline(env, hours, now))
        _explain(env, now, env.log_dir / "supervision-explain.txt")
    finally:
        _clear_cases()
    result = SupervisionResult(
        lots=counts["lot"], events=counts["event"], sessions=counts["session"], lot_hours=counts["hour"],
        samples=counts["sample"], setup_s=setup_s, prime_s=prime_s, pass_s=pass_s, rule_s=rule_s,
        baseline_count_s=baseline, found=found, indexes=_indexes(env))
    say("\n".join(summary(result)))
    return result


def _spread(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:,.0f} ms "
            f"({min(values) * 1000:,.0f}–{max(values) * 1000:,.0f}, {len(values)} runs)")


def summary(r: SupervisionResult) -> list[str]:
    lines = [f"supervision: {r.lots:,} lots, {r.events:,} events, {r.sessions:,} sessions, "
             f"{r.lot_hours:,} lot hours, {r.samples:,} samples",
             f"supervision: a full pass {_spread(r.pass_s)} (period {r.period_s:.0f} s); "
             f"first pass (raising) {r.prime_s * 1000:,.0f} ms",
             f"supervision: baseline count(*) of the day's events {_spread(r.baseline_count_s)}"]
    for code, values in r.rule_s.items():
        lines.append(f"supervision:   {code}: {_spread(values)}, {r.found.get(code, 0)} cases")
    return lines
