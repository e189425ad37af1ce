"""The benchmarks' console table and ``docs/benchmarks.md``.

The document keeps one marked section per benchmark and one for the machine; a run rewrites the
sections of the benchmarks it ran (and the machine notes) and leaves the others as they were, so
``python -m bench map`` does not erase the last ingest figures.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from . import reads as reads_bench
from .bookings import BookingsResult
from .dashboard import GOAL_S as DASHBOARD_GOAL_S
from .dashboard import DashboardResult
from .district import EXIT_SHARE, DistrictResult
from .env import REPO
from .forecast import ForecastResult
from .ingest import IngestResult
from .map import MapResult
from .payments import PaymentsResult
from .push import PushResult
from .reads import ReadsResult

DOC = REPO / "docs" / "benchmarks.md"
ORDER = ("machine", "ingest", "district", "payments", "push", "map", "reads", "bookings", "dashboard", "forecast")
DISTRICT_GOAL_RATE = 3000.0

INGEST_GOAL_RATE = 2000.0
INGEST_GOAL_RATIO = 0.25
PUSH_GOAL_P95_S = 1.5
MAP_GOAL_S = 0.100

INTRO = """# Benchmarks

`make bench` (= `python -m bench`, or
`python -m bench ingest|district|payments|push|map|reads|bookings|dashboard|forecast` for some of them) measures
the figures issues 3, 6, 7, 9 and 11 ask for, each beside a baseline measured in the same run, and rewrites
the sections below with what it measured. Everything runs on 127.0.0.1 against PostgreSQL and
Redis (`DATABASE_URL` / `REDIS_URL`, defaulting to `postgres://postgres@127.0.0.1:5432/wuxi_parking_bench`
and `redis://127.0.0.1:6379/1`). The benchmark database is dropped, recreated, migrated and seeded
with `seed_demo --lots 5000` and `ANALYZE`d on each run (`--keep-db` reuses it, and picks lots no
earlier run has parked in); a database name without "bench" in it gets `_bench` appended, so the
benchmarks never touch a working database. Redis is shared safely: the benchmark servers use their
own key prefix (`bench/settings.py`). Raw figures of the last run: `var/bench/results.json`.

They run in this order, on one pair of servers: `map`, `reads` (on a database nothing writes to yet),
`district`, `ingest`, `payments`, `push`, `bookings`; then `forecast`, which needs no server (it loads a
synthetic month of occupancy and runs the forecast's evaluation in the benchmark's own process). Each can
run alone (`python -m bench reads`, `python -m bench district`); `python -m bench --help` lists the sizes
that can be changed. `district` also profiles PostgreSQL (`pg_stat_statements`, which must be in
`shared_preload_libraries`; without it the section says so) and samples lock waits during its last run of
each workload.

**Servers.** Two daphne processes (`python -m daphne -v 0 wuxi_parking.asgi:application`, one port
each; `--servers N` to change) with the production settings (`DEBUG` off, Redis channel layer and
cache) plus that prefix. Daphne runs each request's synchronous Django code on one thread at a
time per process, so on a 2-core machine two processes are what lets two requests compute at
once; the ingest clients keep two requests in flight per process so neither waits for the next.
Three or four processes measured the same within run-to-run noise: the cores are already busy.
HTTP clients alternate between the ports; WebSocket clients are split evenly. Access logging is
off (in production the load balancer logs requests). The clients run on the same two cores, so
every figure includes their cost; each section says how the CPU was shared, including "other
processes" (anything else running on the machine meanwhile: figures taken while it is high are
pessimistic).
"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def _tick(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _p(values: list[float], pct: float) -> float:
    return PushResult.percentile(values, pct)


BUSY_MACHINE_PCT = 25.0


def cpu_lines(name: str, result) -> list[tuple[str, dict[str, float]]]:
    """(label, CPU shares) of each timed part of a benchmark's result."""
    if name == "district":
        return [(f"district {variant} run {i + 1}", run.cpu) for variant, r in result.items()
                for i, run in enumerate(r.runs)]
    if name == "reads":
        return [("reads sweep", result.sweep_cpu),
                *((f"reads page round {i + 1}", t.cpu) for i, t in enumerate(result.page)),
                *((f"reads nearest round {i + 1}", t.cpu) for i, t in enumerate(result.nearest))]
    if name == "bookings":
        return [("bookings", result.bookings.cpu), ("bookings read", result.reads.cpu)]
    if name == "forecast":
        return []  # in this process, one core: its figures are errors, not speeds
    return [(name, result.cpu)]


def _spread(values: list[float], fmt) -> str:
    """median (min–max, n runs)."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))}, {len(values)} runs)"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def cpu_line(cpu: dict[str, float]) -> str:
    line = ", ".join(f"{name} {pct:.0f}%" for name, pct in cpu.items()) + " (100% = one core)"
    if cpu.get("other processes", 0.0) > BUSY_MACHINE_PCT:
        line += "; the machine was busy with other work meanwhile, so this figure is pessimistic"
    return line


# --- console ------------------------------------------------------------------------------

def table(results: dict) -> str:
    rows = [("benchmark", "measured", "baseline", "goal")]
    if "ingest" in results:
        r: IngestResult = results["ingest"]
        rows.append(("ingest (HTTP, batches of 100)", f"{r.rate:,.0f} events/s",
                     f"{r.baseline_rate:,.0f} events/s executemany",
                     f"≥ 2,000/s {_tick(r.rate >= INGEST_GOAL_RATE)}; ratio {r.ratio:.0%} "
                     f"(≥ 25% {_tick(r.ratio >= INGEST_GOAL_RATIO)})"))
    if "payments" in results:
        pay: PaymentsResult = results["payments"]
        rows.append((f"payments ({pay.orders} notices at once)",
                     f"{_spread(pay.rates, _rate)} notices/s, p95 {_ms(pay.percentile(pay.latencies, 95))}",
                     f"ingest POST ({pay.ingest_batch} events) p50 {_ms(pay.percentile(pay.ingest_latencies, 50))}, "
                     f"p95 {_ms(pay.percentile(pay.ingest_latencies, 95))}", "each paid once: met"))
    if "push" in results:
        p: PushResult = results["push"]
        rows.append((f"push ({p.clients} WebSocket clients)", f"p50 {_ms(p.p(50))}, p95 {_ms(p.p(95))}",
                     f"POST p50 {_ms(_p(p.post_latencies, 50))}; layer hop p50 {_ms(_p(p.layer_latencies, 50))}",
                     f"p95 ≤ 1.5 s {_tick(p.p(95) <= PUSH_GOAL_P95_S)}"))
    if "map" in results:
        m: MapResult = results["map"]
        rows.append((f"map GeoJSON ({m.lots} lots, warm)",
                     f"median {_ms(statistics.median(m.warm))}, p95 {_ms(m.p95(m.warm))}",
                     f"SQL+json.dumps median {_ms(statistics.median(m.baseline))}",
                     f"≤ 100 ms {_tick(m.p95(m.warm) <= MAP_GOAL_S)}"))
    if "district" in results:
        one_lot = f"{results['ingest'].rate:,.0f} events/s one-lot ingest" if "ingest" in results else "—"
        for variant, d in results["district"].items():
            label = (f"district: {d.platforms} platforms × {d.lots // d.platforms} lots" if variant == "spread"
                     else f"district: 1 platform, {d.connections} connections, shared lots")
            rows.append((label, f"{_spread(d.rates, _rate)} events/s", one_lot,
                         f"≥ 3,000/s {_tick(d.median_rate >= DISTRICT_GOAL_RATE)}; "
                         + ("nothing lost" if not d.problems else f"{len(d.problems)} PROBLEMS")))
    if "reads" in results:
        rd: ReadsResult = results["reads"]
        geo = f"GeoJSON {_ms(statistics.median(rd.geojson_single))}"
        rows.append((f"reads: list sweep, {rd.lots:,} lots in {rd.sweep_pages} pages",
                     f"median {_ms(statistics.median(rd.sweeps))}, p95 {_ms(MapResult.p95(rd.sweeps))}", geo,
                     f"≤ 220 ms {_tick(statistics.median(rd.sweeps) <= reads_bench.SWEEP_GOAL_S)}"))
        geo_rate = f"GeoJSON {_spread(rd.rates(rd.geojson), _rate)} req/s"
        rows.append((f"reads: {rd.page_lots}-lot page", f"{_spread(rd.rates(rd.page), _rate)} req/s", geo_rate,
                     f"≥ 125/s {_tick(statistics.median(rd.rates(rd.page)) >= reads_bench.PAGE_GOAL_RPS)}"))
        rows.append(("reads: nearest, limit 10", f"{_spread(rd.rates(rd.nearest), _rate)} req/s", geo_rate,
                     f"≥ 200/s {_tick(statistics.median(rd.rates(rd.nearest)) >= reads_bench.NEAREST_GOAL_RPS)}"))
    if "bookings" in results:
        b: BookingsResult = results["bookings"]
        rows.append((f"bookings: one hot slot, {b.clients} clients",
                     f"{b.bookings.rate:,.0f}/s, p95 {_ms(b.bookings.p95)}",
                     f"read the slot {b.reads.rate:,.0f}/s, p95 {_ms(b.reads.p95)}",
                     "never oversold" if b.booked_in_db == b.bookings.done else "COUNTS DIFFER"))
    if "dashboard" in results:
        dash: DashboardResult = results["dashboard"]
        rows.append((f"dashboard: city, {dash.lots:,} lots, a year of summaries",
                     f"30 d {_spread(dash.page_30, _ms)}; 365 d {_spread(dash.page_365, _ms)}",
                     f"admin index {_spread(dash.baseline_index, _ms)}",
                     f"< 1 s {_tick(max(map(statistics.median, (dash.page_30, dash.page_365))) < DASHBOARD_GOAL_S)}"))
    if "forecast" in results:
        fc: ForecastResult = results["forecast"]
        model = [seed.mae[30][0] for seed in fc.seeds]
        now = [seed.mae[30][1] for seed in fc.seeds]
        week = [seed.mae[30][2] for seed in fc.seeds]
        kept = [seed.kept for seed in fc.seeds]
        lots = fc.seeds[0].lots if fc.seeds else 0
        rows.append((f"forecast: 30-min MAE, {lots} lots × {len(fc.seeds)} seeds", _across(model, _berths),
                     f"now {_across(now, _berths)}; last week {_across(week, _berths)}",
                     f"kept {_across(kept, _rate)} of {lots}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- the document -------------------------------------------------------------------------

def machine_section(notes: dict[str, str]) -> str:
    return (
        "## Machine\n\n"
        f"Measured {notes['date']} on {notes['cpu']}, {notes['cores']} cores, {notes['ram']} RAM, "
        f"{notes['os']}.\n"
        f"Python {notes['python']}, Django {notes['django']}, daphne {notes['daphne']}, "
        f"PostgreSQL {notes['postgresql']}, Redis {notes['redis']}.\n"
    )


def ingest_section(r: IngestResult) -> str:
    releases = ", ".join(f"{k} {v}" for k, v in r.releases.most_common()) or "none"
    codes = ", ".join(f"{k} {v}" for k, v in r.codes.most_common()) or "none"
    return (
        "## Ingest: events per second over HTTP\n\n"
        f"{r.entries + r.exits:,} signed events ({r.entries:,} entries, {r.exits:,} exits) from {r.lots} lots, "
        f"batches of {r.batch_size}, {r.workers} client workers over {r.servers} daphne processes; "
        f"the first batch of each worker warms up and is not timed. A lot's first batch is {r.batch_size} entries, "
        f"each later one half exits (closing sessions with a fee) and half entries. Baseline: the same rows "
        f"(event rows, a session per entry, an UPDATE closing it per exit) with plain psycopg `executemany`, "
        f"one transaction per batch, one connection.\n\n"
        "| | events/s | events | seconds |\n|---|---:|---:|---:|\n"
        f"| end to end over HTTP | **{r.rate:,.0f}** | {r.events:,} | {r.seconds:.2f} |\n"
        f"| baseline: psycopg executemany | {r.baseline_rate:,.0f} | {r.baseline_events:,} | "
        f"{r.baseline_seconds:.2f} |\n\n"
        f"HTTP / baseline: **{r.ratio:.0%}**. Goals: ≥ 2,000 events/s end to end — "
        f"{_tick(r.rate >= INGEST_GOAL_RATE)}; ≥ 25% of the baseline — {_tick(r.ratio >= INGEST_GOAL_RATIO)}.\n\n"
        f"Results: {r.accepted:,} accepted, {r.duplicates} duplicates, {r.rejected} rejected ({codes}). "
        f"Exit releases: {releases}.\n"
        f"CPU during the timed part: {cpu_line(r.cpu)}.\n"
    )


def payments_section(r: PaymentsResult) -> str:
    p50, p95 = _ms(r.percentile(r.latencies, 50)), _ms(r.percentile(r.latencies, 95))
    ingest = (f"signed ingest POST of {r.ingest_batch} events, one at a time: p50 "
              f"{_ms(r.percentile(r.ingest_latencies, 50))}, p95 {_ms(r.percentile(r.ingest_latencies, 95))}")
    return (
        "## Payment callbacks: notices for distinct orders at once\n\n"
        f"{r.orders} stays waiting at the barrier, each in its own sandbox order; then one signed notice per "
        f"order, all released at the same moment on {r.orders} connections split between the {r.servers} "
        "servers (`POST /payments/notify/sandbox/`: the HMAC verified, the stay and the order locked, the money "
        f"applied through the sessions service, the order marked paid). {r.runs} runs, fresh orders each time; "
        "after each, every order was paid exactly once, every stay owed nothing and no payment exception was "
        "open.\n\n"
        "| | measured | beside it, same run |\n|---|---|---|\n"
        f"| throughput | **{_spread(r.rates, _rate)}** notices/s | |\n"
        f"| notice round trip | p50 {p50}, **p95 {p95}**, max {_ms(max(r.latencies))} (all {r.orders} arrive "
        f"at once, so most wait behind the others) | {ingest} |\n\n"
        f"CPU during the last run: {cpu_line(r.cpu)}.\n"
    )


def push_section(p: PushResult) -> str:
    delivered = len(p.latencies)
    return (
        "## Push: ingest POST → WebSocket message\n\n"
        f"{p.clients} WebSocket clients on `/ws/occupancy/?snapshot=0` (one asyncio process, half on each "
        f"server; connecting them took {p.connect_seconds:.1f} s). {p.samples} samples, 1.2–2.2 s apart: each posts "
        "one signed entry for a lot nothing else touches; latency = a client's first message naming that lot − "
        "the moment before the POST, pooled over every client and sample. The servers send at most one message "
        "a second per connection, so up to 1 s of coalescing is by design.\n\n"
        "| | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|\n"
        f"| ingest → WebSocket ({delivered:,} deliveries) | **{_ms(p.p(50))}** | **{_ms(p.p(95))}** | "
        f"{_ms(p.p(99))} | {_ms(max(p.latencies, default=float('nan')))} |\n"
        f"| baseline: the POST's own round trip | {_ms(_p(p.post_latencies, 50))} | "
        f"{_ms(_p(p.post_latencies, 95))} | | {_ms(max(p.post_latencies, default=float('nan')))} |\n"
        f"| baseline: channel layer alone (group_send → one raw receiver, Redis) | "
        f"{_ms(_p(p.layer_latencies, 50))} | {_ms(_p(p.layer_latencies, 95))} | | "
        f"{_ms(max(p.layer_latencies, default=float('nan')))} |\n\n"
        "Why these baselines: the write commits and hands the change to the channel layer before the POST "
        "answers, so the POST's round trip is the floor no push can beat; the channel layer hop is what "
        "crossing processes through Redis costs. What lies between them and the push figure is the hub's "
        "one-second tick (≈ 0.5 s on average by design) and the fan-out to the sockets.\n\n"
        f"Fan-out spread (last client's receive − first client's, per sample): median "
        f"{_ms(statistics.median(p.spreads)) if p.spreads else 'n/a'}, max "
        f"{_ms(max(p.spreads)) if p.spreads else 'n/a'} (each server process's hub ticks on its own clock, so "
        "a change can reach one process's clients up to a tick before the other's).\n\n"
        f"Goal p95 ≤ 1.5 s — {_tick(p.p(95) <= PUSH_GOAL_P95_S)}. Missed deliveries (a client that never saw a "
        f"sample within 5 s): {p.missed}; connections closed by the servers: {p.closed}.\n"
        f"CPU during the samples: {cpu_line(p.cpu)}.\n"
    )


def map_section(m: MapResult) -> str:
    return (
        "## Map: `/api/v1/map/lots.geojson`\n\n"
        f"The whole demo city, {m.lots:,} lots ({m.json_bytes / 1e6:.1f} MB of JSON, {m.gzip_bytes / 1e6:.2f} MB "
        f"gzipped as sent), one keep-alive client asking with `Accept-Encoding: gzip`, timed from request to last "
        f"byte. Warm: {m.requests} requests back to back after a priming one. Cold: a request right after "
        "deleting the servers' cache entries, which builds the snapshot from the database; the shared "
        "snapshot is fresh for 3 s, then one request rebuilds it (paying about the cold figure) while the "
        "others are answered from the stale copy. Baseline: the same rows by one raw SQL query and the same "
        "FeatureCollection through `json.dumps`, per request, in this process.\n\n"
        "| | median | p95 |\n|---|---:|---:|\n"
        f"| warm | **{_ms(statistics.median(m.warm))}** | **{_ms(m.p95(m.warm))}** |\n"
        f"| cold (cache deleted, {len(m.cold)} requests) | {_ms(statistics.median(m.cold))} | "
        f"{_ms(max(m.cold))} (max) |\n"
        f"| baseline: raw SQL + json.dumps | {_ms(statistics.median(m.baseline))} | {_ms(m.p95(m.baseline))} |\n\n"
        f"Goal ≤ 100 ms warm (p95) — {_tick(m.p95(m.warm) <= MAP_GOAL_S)}.\n"
        f"CPU during the warm series: {cpu_line(m.cpu)}.\n"
    )


def _short_sql(query: str, width: int = 150) -> str:
    query = query.replace("|", "\\|").replace("`", "'")
    return query if len(query) <= width else query[:width - 1] + "…"


def district_section(results: dict[str, DistrictResult]) -> str:
    lines = ["## District platforms: many lots under one key\n"]
    any_result = next(iter(results.values()))
    lines.append(
        f"Batches of {any_result.batch_size} signed events over {any_result.servers} daphne processes, each "
        f"connection posting its batches in order; every batch spans its platform's lots, "
        f"{EXIT_SHARE:.0%} exits (of the cars in longest) and the rest entries; each connection's first "
        f"batch (all entries) warms up and is not timed, {any_result.batches - 1} timed batches follow. Every run "
        "starts each lot empty (free = total) and is checked in the database afterwards: an event row per event, "
        "a session per entry, an ended stay per exit, and every lot's `free_berths` = total − the run's cars still "
        "parked. **spread**: each platform its own key for its own lots. **shared lots**: one platform, one key, "
        "its connections posting at once to the same lots (each connection with its own cars, so an exit never "
        "overtakes its entry). Baseline: the one-lot ingest figure of the same run (section above), when it ran.\n")
    lines.append("| workload | events/s, each run | median | events per run | checked |\n|---|---|---:|---:|---|")
    for variant, r in results.items():
        label = (f"spread: {r.platforms} platforms × {r.lots // r.platforms} lots" if variant == "spread"
                 else f"shared lots: 1 platform, {r.connections} connections, {r.lots} lots")
        each = ", ".join(f"{rate:,.0f}" for rate in r.rates)
        checked = "nothing lost or double-counted" if not r.problems else "; ".join(r.problems)
        lines.append(f"| {label} | {each} | **{r.median_rate:,.0f}** | {r.runs[0].events:,} | {checked} |")
    lines.append("")
    lines.append("Goal ≥ 3,000 events/s for every workload — "
                 + ", ".join(f"{v}: {_tick(r.median_rate >= DISTRICT_GOAL_RATE)}" for v, r in results.items()) + ".\n")
    for variant, r in results.items():
        for i, run in enumerate(r.runs):
            releases = ", ".join(f"{k} {v}" for k, v in sorted(run.releases.items(), key=lambda kv: -kv[1]))
            lines.append(f"- {variant} run {i + 1}: {run.events:,} events in {run.seconds:.2f} s; exit releases "
                         f"{releases or 'none'}; CPU {cpu_line(run.cpu)}.")
    lines.append("")
    for variant, r in results.items():
        if r.profile_note:
            lines.append(f"Profile ({variant}): {r.profile_note}.\n")
            continue
        if not r.statements:
            continue
        first = r.statements[0]
        total_ms, calls = first.get("all_total_ms", 0.0), first.get("all_calls", 0)
        lines.append(f"### Where PostgreSQL's time went: {variant}, last run\n")
        lines.append(f"`pg_stat_statements` (reset before the run): {calls:,} statements, {total_ms:,.0f} ms of "
                     f"execution in all, over {r.profiled_batches} batches "
                     f"({calls / max(1, r.profiled_batches):.1f} statements and "
                     f"{total_ms / max(1, r.profiled_batches):.1f} ms a batch). Top statements by total time:\n")
        lines.append("| share | total ms | calls | calls/batch | mean ms | rows | statement |\n"
                     "|---:|---:|---:|---:|---:|---:|---|")
        for st in r.statements:
            lines.append(f"| {st['share']:.1f}% | {st['total_ms']:,.0f} | {st['calls']:,} | "
                         f"{st['calls'] / max(1, r.profiled_batches):.1f} | "
                         f"{st['total_ms'] / max(1, st['calls']):.2f} | "
                         f"{st['rows']:,} | `{_short_sql(st['query'])}` |")
        if r.wait_samples:
            seen = sum(r.waits.values())
            lines.append(f"\nWhat the benchmark's active backends were doing, {r.wait_samples:,} samples of "
                         f"`pg_stat_activity` every 20 ms ({seen / r.wait_samples:.2f} active backends on average):\n")
            lines.append("| wait | share of active samples |\n|---|---:|")
            for wait, n in r.waits.items():
                lines.append(f"| {wait} | {100 * n / max(1, seen):.0f}% |")
        lines.append("")
    return "\n".join(lines)


def reads_section(r: ReadsResult) -> str:
    sweep_med = statistics.median(r.sweeps)
    page_rates, near_rates, geo_rates = r.rates(r.page), r.rates(r.nearest), r.rates(r.geojson)

    def lat(series) -> str:
        values = [x for t in series for x in t.latencies]
        return f"{_ms(statistics.median(values))} / {_ms(MapResult.p95(values))}" if values else "n/a"

    fresh = ("n/a" if r.freshness_list_s is None else f"{r.freshness_list_s:.1f} s")
    fresh_geo = ("n/a" if r.freshness_geojson_s is None else f"{r.freshness_geojson_s:.1f} s")
    return (
        "## Reads: the lot list, a 100-lot page and nearest, beside the GeoJSON\n\n"
        f"{r.lots:,} lots. **Sweep**: every lot through `GET /api/v1/lots/?page_size=1000`, following `next` "
        f"({r.sweep_pages} pages, {r.sweep_bytes / 1e6:.1f} MB of JSON in all), one keep-alive "
        f"client alternating between the {r.servers} servers, timed from the first request to the last byte "
        f"of the last page; {len(r.sweeps)} sweeps, each followed by one GeoJSON request (gzip) on the same "
        f"client. **Page**: `?bbox={r.bbox}&page_size=100` ({r.page_lots} lots); **nearest**: "
        f"`/api/v1/lots/nearest?lat=&lon=&limit=10` at 200 points around the centre; each as requests per "
        f"second from {r.clients} concurrent keep-alive clients (half on each server) for a few seconds, "
        f"{len(r.page)} rounds, the GeoJSON measured the same way in each round. Baseline for the sweep: "
        "the same five pages built in this process as every request built them before (the FilterSet's query, "
        "`LotSerializer` per row, DRF's `JSONRenderer`).\n\n"
        "| | measured | median / p95 latency | beside it, same run | goal |\n|---|---|---:|---|---|\n"
        f"| list sweep ({r.sweep_pages} pages) | median **{_ms(sweep_med)}**, p95 {_ms(MapResult.p95(r.sweeps))} "
        f"(min {_ms(min(r.sweeps))}, max {_ms(max(r.sweeps))}) | | one GeoJSON request: median "
        f"{_ms(statistics.median(r.geojson_single))}; serializer baseline: {_ms(statistics.median(r.baseline_sweeps))} "
        f"| ≤ 220 ms — {_tick(sweep_med <= reads_bench.SWEEP_GOAL_S)} |\n"
        f"| {r.page_lots}-lot page | **{_spread(page_rates, _rate)}** req/s | {lat(r.page)} | GeoJSON "
        f"{_spread(geo_rates, _rate)} req/s ({lat(r.geojson)}) | ≥ 125 req/s — "
        f"{_tick(statistics.median(page_rates) >= reads_bench.PAGE_GOAL_RPS)} |\n"
        f"| nearest, limit 10 | **{_spread(near_rates, _rate)}** req/s | {lat(r.nearest)} | (same) | ≥ 200 req/s — "
        f"{_tick(statistics.median(near_rates) >= reads_bench.NEAREST_GOAL_RPS)} |\n\n"
        "Freshness: the list and nearest are answered from the same snapshot the GeoJSON is served from (fresh for "
        f"3 s, then rebuilt by one request). A count changed in the database showed in the list after {fresh} and "
        f"in the GeoJSON after {fresh_geo}.\n\n"
        f"CPU during the sweeps: {cpu_line(r.sweep_cpu)}.\n"
        + "".join(f"CPU, round {i + 1}: page {cpu_line(p.cpu)}; nearest {cpu_line(n.cpu)}.\n"
                  for i, (p, n) in enumerate(zip(r.page, r.nearest, strict=True)))
    )


def bookings_section(b: BookingsResult) -> str:
    refused = ", ".join(f"{code} {n}" for code, n in b.bookings.refused.items()) or "none"
    return (
        "## Bookings: one hot slot under concurrent clients, beside a plain read of it\n\n"
        f"{b.clients} clients (threads of the benchmark process, each with its own PostgreSQL connection) call "
        "the booking service (`reservation_book`: plate check, the site's rules, the one-a-day check, the conditional "
        f"UPDATE that takes the place, the insert) for {b.seconds:.0f} s, each with plates of its own, all on one slot "
        "whose quota nobody reaches; then the same clients read that slot (one SELECT) for as long. HTTP and DRF "
        "are left out of both: the figure is what a booking costs the database under contention. Each client's first "
        "call (it opens the client's connection) is warm-up, not counted.\n\n"
        "| | per second | median / p95 latency |\n|---|---:|---:|\n"
        f"| bookings | **{b.bookings.rate:,.0f}** | {_ms(b.bookings.median)} / {_ms(b.bookings.p95)} |\n"
        f"| reading the slot (same run) | {b.reads.rate:,.0f} | {_ms(b.reads.median)} / {_ms(b.reads.p95)} |\n\n"
        f"Bookings made: {b.bookings.done:,} (warm-up included); the slot's counter says {b.booked_in_db:,} "
        f"({'the same' if b.booked_in_db == b.bookings.done else 'DIFFERENT'}). Refused: {refused}.\n\n"
        f"CPU while booking: {cpu_line(b.bookings.cpu)}.\nCPU while reading: {cpu_line(b.reads.cpu)}.\n"
    )


def dashboard_section(d: DashboardResult) -> str:
    return (
        "## Dashboard: the city's supervision page over a year of summaries\n\n"
        f"`GET /admin/analytics/dashboard/` for a city-wide member of staff (not a superuser), {d.lots:,} lots with "
        f"{d.lot_days:,} `LotDay` rows (365 days) and {d.lot_hours:,} `LotHour` rows (the 28 days the hour panel "
        f"reads), rolled up into {d.region_days:,} `RegionDay` rows; one keep-alive client, time to the last byte, "
        f"{len(d.page_30)} requests of each page interleaved with the baseline after one priming request each "
        f"(page: {d.page_bytes / 1024:,.0f} KiB). Data generated and rolled up in {d.setup_s:.0f} s.\n\n"
        "| | median (min–max, runs) |\n|---|---:|\n"
        f"| dashboard, 30 days | **{_spread(d.page_30, _ms)}** |\n"
        f"| dashboard, 365 days | **{_spread(d.page_365, _ms)}** |\n"
        f"| baseline: the admin index, same run and session | {_spread(d.baseline_index, _ms)} |\n"
        "| money by district for the year from `LotDay` (no rollup), in process | "
        f"{_spread(d.baseline_lotday_s, _ms)} |\n"
        f"| the same from `RegionDay`, in process | {_spread(d.rollup_money_s, _ms)} |\n"
        f"| one day's region rollup (`region_days_refresh`) | {_spread(d.rollup_day_s, _ms)} |\n"
        f"| the lots' last four weeks (`lot_recent_refresh`, once) | {_ms(d.lot_recent_s)} |\n\n"
        f"CPU while timing: {cpu_line(d.cpu)}.\n"
    )


def _berths(value: float) -> str:
    return f"{value:.2f}"


def _across(values: list[float], fmt) -> str:
    """median (min–max) across seeds."""
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def forecast_section(f: ForecastResult) -> str:
    seeds = f.seeds
    lots = seeds[0].lots if seeds else 0
    lines = [
        f"## Forecast: model vs the naive baselines, {lots} lots, a synthetic month, {len(seeds)} seeds\n",
        f"`python -m bench forecast`: {f.days} days of five-minute samples a seed (`bench/forecast_data.py`), "
        f"the last {f.held_out_days} held out, evaluated by what `manage.py forecast_evaluate --days "
        f"{f.held_out_days}` runs. Mean absolute error of the model, of the count now and of last week's count "
        "at the target time, averaged over the lots; each cell is the median (min–max) across the seeds.\n",
    ]
    for title, all_key, kept_key, fmt in (("in berths", "mae", "mae_kept", _berths),
                                          ("as a share of each lot's berths", "share", "share_kept", _percent)):
        lines += [f"MAE {title}:\n",
                  "| horizon | all lots: model | count now | last week | kept lots: model | count now | last week |",
                  "|---|---|---|---|---|---|---|"]
        for h in (15, 30, 60):
            cells = [_across([getattr(seed, key)[h][i] for seed in seeds], fmt)
                     for key in (all_key, kept_key) for i in range(3)]
            lines.append(f"| {h} min | **{cells[0]}** | {cells[1]} | {cells[2]} | **{cells[3]}** | {cells[4]} | "
                         f"{cells[5]} |")
        lines.append("")
    lines += ["| seed | lots kept | of them irregular | irregular lots | samples | evaluation |",
              "|---|---|---|---|---|---|"]
    for seed in seeds:
        lines.append(f"| {seed.seed} | {seed.kept} of {seed.lots} | {seed.kept_irregular} | {seed.irregular} | "
                     f"{seed.samples:,} | {seed.seconds:.1f} s |")
    return "\n".join(lines) + "\n"


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _marked(name: str, body: str) -> str:
    return f"<!-- bench:{name}:start -->\n{body.rstrip()}\n<!-- bench:{name}:end -->"


def update_doc(results: dict, notes: dict[str, str], path: Path = DOC) -> Path:
    sections = {"machine": machine_section(notes)}
    renderers = {"ingest": ingest_section, "district": district_section, "push": push_section, "map": map_section,
                 "reads": reads_section, "bookings": bookings_section, "payments": payments_section,
                 "dashboard": dashboard_section, "forecast": forecast_section}
    for name, result in results.items():
        sections[name] = renderers[name](result)
    text = path.read_text() if path.exists() else INTRO
    first_marker = text.find("<!-- bench:")
    if first_marker >= 0:  # the introduction describes this code: keep it in step with it
        text = INTRO.rstrip() + "\n\n" + text[first_marker:]
    for name in ORDER:
        if name not in sections:
            continue
        block = _marked(name, sections[name])
        pattern = re.compile(rf"<!-- bench:{name}:start -->.*?<!-- bench:{name}:end -->", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _m, block=block: block, text)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
