"""``python -m bench [map|reads|district|ingest|payments|push|bookings|dashboard|forecast ...]`` — run them,
update docs/benchmarks.md.

Needs PostgreSQL and Redis on 127.0.0.1 (``DATABASE_URL`` / ``REDIS_URL``, see ``bench.env``).
Stops by itself: every phase is bounded, and the whole run is cut off after ``--time-limit``
seconds; the server and client processes it started are stopped on the way out, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time

from .env import (
    DEFAULT_REDIS_URL,
    SETTINGS_MODULE,
    BenchError,
    bench_database_url,
    require_loopback,
)

# In the order they run: the reads on a quiet database first, then the writes.
BENCHMARKS = ("map", "reads", "district", "ingest", "payments", "push", "bookings", "dashboard", "forecast", "soak",
              "supervision")
# Those that need no server: they call the code in this process.
IN_PROCESS = frozenset({"forecast", "supervision"})
# Run only when named: the soak holds the machine for a quarter of an hour; supervision generates
# a city's day of raw events first (about ten minutes).
ON_REQUEST = ("soak", "supervision")


class _Stop(BaseException):
    """SIGTERM or the time limit: unwind through every ``finally`` so child processes are stopped."""


def _raise_stop(signum, _frame):
    raise _Stop(signal.Signals(signum).name)


def _check_services(database_url: str, redis_url: str) -> None:
    import psycopg
    import redis

    try:
        psycopg.connect(database_url.replace("postgres://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres",
                        connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL is not answering ({exc}); the benchmarks need it (DATABASE_URL)") from exc
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis is not answering ({exc}); the benchmarks need it (REDIS_URL)") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Wuxi Parking benchmarks")
    parser.add_argument("benchmarks", nargs="*", metavar="{" + ",".join(BENCHMARKS) + "}",
                        help="which to run (default: all)")
    parser.add_argument("--keep-db", action="store_true", help="reuse the benchmark database if it is seeded")
    parser.add_argument("--lots", type=int, default=5000, help="demo lots to seed (map and push)")
    parser.add_argument("--ingest-lots", type=int, default=20, help="lots fed by the ingest benchmark")
    parser.add_argument("--batches", type=int, default=16, help="batches of 100 per ingest lot")
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients")
    parser.add_argument("--samples", type=int, default=30, help="push samples")
    parser.add_argument("--requests", type=int, default=50, help="warm map requests")
    parser.add_argument("--servers", type=int, default=2, help="daphne processes")
    parser.add_argument("--runs", type=int, default=3, help="runs of each district workload")
    parser.add_argument("--platforms", type=int, default=8,
                        help="district platforms (spread) and connections (shared lots)")
    parser.add_argument("--platform-lots", type=int, default=100, help="lots per district platform")
    parser.add_argument("--district-batches", type=int, default=13,
                        help="batches of 100 per district connection (the first is warm-up)")
    parser.add_argument("--no-profile", action="store_true",
                        help="district: skip pg_stat_statements and the lock-wait sampling")
    parser.add_argument("--sweeps", type=int, default=20, help="reads: sweeps of the whole list")
    parser.add_argument("--read-seconds", type=float, default=4.0, help="reads: seconds per throughput round")
    parser.add_argument("--read-rounds", type=int, default=3, help="reads: throughput rounds")
    parser.add_argument("--read-clients", type=int, default=4, help="reads: concurrent clients")
    parser.add_argument("--per-server", type=int, default=2, help="ingest client workers per server process")
    parser.add_argument("--booking-clients", type=int, default=100, help="bookings: concurrent clients")
    parser.add_argument("--booking-seconds", type=float, default=10.0, help="bookings: seconds per phase")
    parser.add_argument("--notices", type=int, default=200, help="payments: concurrent notices a run")
    parser.add_argument("--payment-runs", type=int, default=3, help="payments: runs")
    parser.add_argument("--dashboard-lots", type=int, default=8400, help="dashboard: lots with a year of summaries")
    parser.add_argument("--dashboard-requests", type=int, default=20, help="dashboard: timed requests of each page")
    parser.add_argument("--forecast-lots", type=int, default=40, help="forecast: lots given a synthetic month")
    parser.add_argument("--forecast-seeds", type=int, default=3, help="forecast: seeds (one synthetic month each)")
    parser.add_argument("--soak-viewers", type=int, default=2000, help="soak: WebSocket map viewers")
    parser.add_argument("--soak-rate", type=float, default=500.0, help="soak: simulator events per second")
    parser.add_argument("--soak-seconds", type=float, default=600.0, help="soak: seconds measured")
    parser.add_argument("--soak-warmup", type=float, default=60.0, help="soak: seconds before measuring")
    parser.add_argument("--simulators", type=int, default=4, help="soak: simulator processes")
    parser.add_argument("--soak-lots", type=int, default=150, help="soak: lots each simulator drives")
    parser.add_argument("--soak-speed", type=float, default=30.0,
                        help="soak: the simulated day's clock speed (more turnover per lot)")
    parser.add_argument("--supervision-lots", type=int, default=8400, help="supervision: lots with a day of events")
    parser.add_argument("--supervision-hours", type=int, default=24, help="supervision: hours of raw events")
    parser.add_argument("--supervision-runs", type=int, default=5, help="supervision: timed passes")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--time-limit", type=int, default=3600, help="stop everything after this many seconds")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    wanted = args.benchmarks or [name for name in BENCHMARKS if name not in ON_REQUEST]
    selected = [name for name in BENCHMARKS if name in wanted]

    database_url, note = bench_database_url(os.environ.get("DATABASE_URL"))
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        require_loopback(database_url)
        require_loopback(redis_url)
        _check_services(database_url, redis_url)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if note:
        print(f"bench: {note}")
    os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
                       "DEBUG": "false", "LOG_LEVEL": "WARNING"})
    # The benchmark's own servers decrypt the device secrets this process issues: any stable key will do.
    os.environ.setdefault("SECRET_KEY", "bench-only-key-never-used-for-anything-real")
    os.environ.setdefault("DEVICE_SECRET_KEY", "bench-only-device-key-never-used-for-anything-real")
    os.environ.setdefault("PLATE_HASH_SALT", "bench-only-plate-salt-never-used-for-anything-real")
    os.environ.setdefault("WECHAT_SITE_URL", "http://127.0.0.1")

    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGALRM, _raise_stop)
    signal.alarm(args.time_limit)

    import django

    django.setup()
    from . import bookings, dashboard, district, ingest, payments, push, reads, report
    from . import forecast as forecast_bench
    from . import map as map_bench
    from .env import BenchEnv, Servers, machine_notes, prepare

    env = BenchEnv.from_settings(database_url=database_url, redis_url=redis_url)
    needs_city = any(name in selected for name in ("map", "push", "reads", "district", "soak"))
    started = time.monotonic()
    results: dict = {}
    try:
        prepare(env, lots=args.lots if needs_city else 200, recreate=not args.keep_db, say=_say)
        needs_servers = any(name not in IN_PROCESS for name in selected)
        with Servers(env, count=args.servers) if needs_servers else contextlib.nullcontext() as servers:
            if servers is not None:
                _say(f"servers: daphne on ports {', '.join(map(str, servers.ports))}")
            if "map" in selected:
                results["map"] = map_bench.run(env, servers, requests=args.requests, say=_say)
            if "reads" in selected:
                results["reads"] = reads.run(servers, sweeps=args.sweeps, seconds=args.read_seconds,
                                             rounds=args.read_rounds, clients=args.read_clients, say=_say)
            if "district" in selected:
                results["district"] = district.run(
                    env, servers, platforms=args.platforms, lots_per_platform=args.platform_lots,
                    batches=args.district_batches, runs=args.runs, profile=not args.no_profile, say=_say)
            if "ingest" in selected:
                results["ingest"] = ingest.run(env, servers, lots=args.ingest_lots, batches_per_lot=args.batches,
                                               per_server=args.per_server, say=_say)
            if "payments" in selected:
                results["payments"] = payments.run(env, servers, orders=args.notices, runs=args.payment_runs,
                                                   say=_say)
            if "push" in selected:
                results["push"] = push.run(env, servers, clients=args.clients, samples=args.samples, say=_say)
            if "bookings" in selected:
                results["bookings"] = bookings.run(env, servers, clients=args.booking_clients,
                                                   seconds=args.booking_seconds, say=_say)
            if "dashboard" in selected:
                results["dashboard"] = dashboard.run(env, servers, lots=args.dashboard_lots,
                                                     requests=args.dashboard_requests, say=_say)
            if "forecast" in selected:
                results["forecast"] = forecast_bench.run(env, servers, lots=args.forecast_lots,
                                                         seeds=tuple(range(1, args.forecast_seeds + 1)), say=_say)
            if "soak" in selected:
                from . import soak

                results["soak"] = soak.run(env, servers, viewers=args.soak_viewers, rate=args.soak_rate,
                                           seconds=args.soak_seconds, warmup=args.soak_warmup,
                                           simulators=args.simulators, lots_per_simulator=args.soak_lots,
                                           speed=args.soak_speed, say=_say)
            if "supervision" in selected:
                from . import supervision

                results["supervision"] = supervision.run(env, servers, lots=args.supervision_lots,
                                                         hours=args.supervision_hours, runs=args.supervision_runs,
                                                         say=_say)
        notes = machine_notes(env)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except (_Stop, KeyboardInterrupt) as exc:
        print(f"bench: stopped ({exc or 'interrupted'}); server processes were shut down", file=sys.stderr)
        return 130
    finally:
        signal.alarm(0)
    raw = env.log_dir / "results.json"
    raw.write_text(json.dumps({name: _plain(result) for name, result in results.items()}, indent=1, default=str))
    print()
    print(report.table(results))
    if "soak" in results:
        from . import soak

        print("\n".join(soak.summary(results["soak"])))
    if "supervision" in results:
        from . import supervision

        print("\n".join(supervision.summary(results["supervision"])))
    for name, result in results.items():
        for label, cpu in report.cpu_lines(name, result):
            print(f"{label} CPU: {report.cpu_line(cpu)}")
    print(f"raw figures: {raw.relative_to(report.REPO)}")
    print(f"\n({time.monotonic() - started:.0f} s)")
    if not args.no_doc:
        # The soak's figures go into the hand-written part of the page, beside the machine's load.
        measured = {name: result for name, result in results.items() if name not in ON_REQUEST}
        if measured:
            print(f"updated {report.update_doc(measured, notes).relative_to(report.REPO)}")
    return 0


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
