"""A tiny run of every benchmark's code path (bench/), so ``make bench`` cannot rot unnoticed.

Real servers (two daphne processes), the real client processes, PostgreSQL and Redis, but a few
events, clients and requests: this checks that each benchmark runs and counts what it should,
never how fast anything is.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from bench import bookings, dashboard, district, ingest, payments, push, reads, report
from bench import forecast as forecast_bench
from bench import map as map_bench
from bench.env import BenchEnv, Servers, bench_database_url, machine_notes, prepare


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _quiet(_line: str) -> None:
    pass


@pytest.fixture
def bench_keys(settings):
    """Keys of this run's own: the servers run production settings, which refuse the test settings'
    well-known key and a device key equal to it. This process encrypts device secrets with them too."""
    import base64
    import hashlib
    import secrets

    settings.SECRET_KEY, device_key = secrets.token_urlsafe(50), secrets.token_urlsafe(32)
    settings.DEVICE_SECRET_FERNET_KEY = base64.urlsafe_b64encode(hashlib.sha256(device_key.encode()).digest())
    return settings.SECRET_KEY, device_key


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_benchmark_runs_end_to_end(tmp_path, bench_keys):
    secret_key, device_key = bench_keys
    env = BenchEnv(database_url=_test_database_url(), redis_url=settings.REDIS_URL, secret_key=secret_key,
                   device_secret_key=device_key)
    env.log_dir = tmp_path
    prepare(env, lots=60, recreate=False, migrate=False, say=_quiet)  # seed_demo, as the real run does

    with Servers(env, count=2) as servers:
        assert len(set(servers.ports)) == 2
        mapped = map_bench.run(env, servers, requests=3, cold=1, say=_quiet)
        ingested = ingest.run(env, servers, lots=4, batches_per_lot=2, batch_size=10, say=_quiet)
        pushed = push.run(env, servers, clients=6, samples=2, gap_s=(0.1, 0.2), wait_s=4.0, say=_quiet)
        read = reads.run(servers, sweeps=2, seconds=0.3, rounds=1, clients=2, points=5, say=_quiet)
        districts = district.run(env, servers, platforms=2, lots_per_platform=5, batches=3, batch_size=10, runs=2,
                                 say=_quiet)
        booked = bookings.run(env, servers, clients=4, seconds=0.5, say=_quiet)
        paid = payments.run(env, servers, orders=6, runs=2, ingest_posts=2, say=_quiet)
        dashed = dashboard.run(env, servers, lots=70, requests=2, days=10, hour_days=2, say=_quiet)
    assert all(proc.poll() is not None for proc in servers.procs), "the servers are stopped on the way out"
    forecasted = forecast_bench.run(lots=4, days=15, held_out_days=1, seeds=(1, 2), say=_quiet)  # no server

    assert mapped.lots == 60
    assert dashed.lots == 70 and dashed.lot_days == 70 * 10 and dashed.lot_hours == 70 * 2 * 24
    assert len(dashed.page_30) == len(dashed.page_365) == len(dashed.baseline_index) == 2
    assert dashed.region_days > 0 and len(dashed.rollup_day_s) == 10 and dashed.page_bytes > 0
    assert len(mapped.warm) == 3 and len(mapped.cold) == 1 and len(mapped.baseline) == 3
    assert 0 < mapped.gzip_bytes < mapped.json_bytes

    sent = 4 * 2 * 10
    assert ingested.accepted == sent and ingested.rejected == 0 and ingested.duplicates == 0
    assert ingested.events == 4 * 10  # each worker's first batch is warm-up
    assert ingested.baseline_events == sent
    assert ingested.exits == 4 * 5 and ingested.entries == sent - 4 * 5
    assert sum(ingested.releases.values()) == ingested.exits

    assert pushed.samples == 2
    assert pushed.missed == 0 and len(pushed.latencies) == 2 * 6
    assert all(latency > 0 for latency in pushed.latencies)
    assert len(pushed.post_latencies) == 2 and len(pushed.layer_latencies) == 200

    assert read.lots == 60 and len(read.sweeps) == 2 and read.sweep_pages == 1
    assert read.page_lots == 60  # fewer lots than a page: the box holds them all
    assert all(t.requests > 0 and t.rate > 0 for t in (*read.page, *read.nearest, *read.geojson))
    assert read.freshness_list_s is not None and read.freshness_geojson_s is not None
    assert len(read.baseline_sweeps) == 3

    assert set(districts) == {"spread", "shared"}
    for variant, result in districts.items():
        assert len(result.runs) == 2
        assert result.problems == [], (variant, result.problems)
        for run in result.runs:
            assert run.events == 2 * 2 * 10  # two connections, two timed batches of ten each
            assert run.accepted == 2 * 3 * 10 and run.rejected == 0 and run.duplicates == 0
            assert run.checks["event rows"] == run.checks["events sent"] == 60
            assert run.checks["stays ended"] == run.checks["exits"] == 2 * 2 * 4  # 45% of 10, rounded
            assert run.checks["lots with a wrong count"] == 0
    assert districts["spread"].lots == 10 and districts["shared"].lots == 5
    profiled = districts["shared"]
    assert profiled.profile_note or (profiled.statements and profiled.wait_samples > 0)

    assert booked.bookings.done == booked.booked_in_db > 4 and booked.bookings.refused == {}
    assert booked.bookings.operations == booked.bookings.done - 4  # each client's first call is warm-up
    assert booked.reads.operations > 0 and booked.bookings.p95 > 0
    assert len(paid.seconds) == 2 and len(paid.latencies) == 12 and paid.problems == []
    assert len(paid.ingest_latencies) == 2

    assert [seed.seed for seed in forecasted.seeds] == [1, 2]
    for seed in forecasted.seeds:
        assert seed.samples == 4 * 15 * 288 and seed.irregular == 1
        assert 0 <= seed.kept_irregular <= seed.kept <= 4
        assert all(all(value >= 0 for value in seed.mae[h]) for h in (15, 30, 60))

    doc = tmp_path / "benchmarks.md"
    notes = machine_notes(env)
    everything = {"ingest": ingested, "district": districts, "push": pushed, "map": mapped, "reads": read,
                  "bookings": booked,
                  "payments": paid, "dashboard": dashed, "forecast": forecasted}
    report.update_doc(everything, notes, path=doc)
    first = doc.read_text()
    for name in ("machine", "ingest", "district", "push", "map", "reads", "bookings", "payments", "dashboard",
                 "forecast"):
        assert first.count(f"<!-- bench:{name}:start -->") == 1
    report.update_doc({"map": mapped}, notes, path=doc)  # a partial run keeps the other sections
    assert doc.read_text().count("## Ingest") == 1
    assert doc.read_text().count("## District platforms") == 1
    table = report.table(everything)
    assert "ingest (HTTP" in table and "shared lots" in table and "nearest" in table and "hot slot" in table
    assert "notices" in table and "dashboard: city" in table
    assert "forecast: 30-min MAE" in table


def test_district_plan_keeps_each_connection_in_order_and_spans_its_lots():
    """An exit is only ever planned after its car's entry on the same connection, 45% of a batch."""
    import json

    keys = [("k1", "s1"), ("k2", "s2")]
    lots = [[f"A-{i}" for i in range(10)], [f"B-{i}" for i in range(10)]]
    earlier: set[str] = set()
    for variant in ("spread", "shared"):
        before = set(earlier)
        posters = district.plan(variant, keys, lots, connections=3, batches=4, batch_size=20, seed=1, prefix="t",
                                taken=earlier)
        plates = {e["plate"] for p in posters for b in p.bodies for e in json.loads(b)["events"]}
        assert not plates & before  # a later run never reuses an earlier run's cars
        assert len(posters) == (2 if variant == "spread" else 3)
        for poster in posters:
            parked = set()
            for number, body in enumerate(poster.bodies):
                events = json.loads(body)["events"]
                exits = [e for e in events if e["type"] == "exit"]
                assert len(exits) == (0 if number == 0 else 9)
                assert {e["lot_code"] for e in events if e["type"] == "entry"} <= set(lots[0] + lots[1])
                for event in events:
                    if event["type"] == "entry":
                        parked.add(event["plate"])
                    else:
                        assert event["plate"] in parked
                        parked.remove(event["plate"])
            assert sum(poster.net.values()) == len(parked)
        if variant == "shared":
            assert {e["lot_code"] for p in posters for b in p.bodies for e in json.loads(b)["events"]} == set(lots[0])


def test_benchmark_database_is_never_a_working_one():
    assert bench_database_url(None)[0].endswith("/wuxi_parking_bench")
    url, note = bench_database_url("postgres://u:p@127.0.0.1:5432/wuxi_parking")
    assert url == "postgres://u:p@127.0.0.1:5432/wuxi_parking_bench" and note
    assert bench_database_url("postgres://127.0.0.1/my_bench") == ("postgres://127.0.0.1/my_bench", None)


def test_the_supervision_benchmark_runs_only_when_named_and_without_servers():
    """It generates a city's day of raw events first (minutes): a plain ``python -m bench`` skips it."""
    from bench import __main__ as bench_main

    assert "supervision" in bench_main.BENCHMARKS
    assert "supervision" in bench_main.ON_REQUEST and "supervision" in bench_main.IN_PROCESS
