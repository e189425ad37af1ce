"""A tiny run of every benchmark's code path (bench/), so ``make bench`` cannot rot unnoticed.

Real servers (two daphne processes), the real client processes, PostgreSQL and Redis, but a few
events, clients and requests: this checks that each benchmark runs and counts what it should,
never how fast anything is.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from bench import ingest, push, report
from bench import map as map_bench
from bench.env import BenchEnv, Servers, bench_database_url, machine_notes, prepare


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _quiet(_line: str) -> None:
    pass


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_benchmark_runs_end_to_end(tmp_path):
    env = BenchEnv.from_settings(database_url=_test_database_url(), redis_url=settings.REDIS_URL)
    env.log_dir = tmp_path
    prepare(env, lots=60, recreate=False, migrate=False, say=_quiet)  # seed_demo, as the real run does

    with Servers(env, count=2) as servers:
        assert len(set(servers.ports)) == 2
        mapped = map_bench.run(env, servers, requests=3, cold=1, say=_quiet)
        ingested = ingest.run(env, servers, lots=4, batches_per_lot=2, batch_size=10, say=_quiet)
        pushed = push.run(env, servers, clients=6, samples=2, gap_s=(0.1, 0.2), wait_s=4.0, say=_quiet)
    assert all(proc.poll() is not None for proc in servers.procs), "the servers are stopped on the way out"

    assert mapped.lots == 60
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

    doc = tmp_path / "benchmarks.md"
    notes = machine_notes(env)
    report.update_doc({"ingest": ingested, "push": pushed, "map": mapped}, notes, path=doc)
    first = doc.read_text()
    for name in ("machine", "ingest", "push", "map"):
        assert first.count(f"<!-- bench:{name}:start -->") == 1
    report.update_doc({"map": mapped}, notes, path=doc)  # a partial run keeps the other sections
    assert doc.read_text().count("## Ingest") == 1
    assert "ingest (HTTP" in report.table({"ingest": ingested, "push": pushed, "map": mapped})


def test_benchmark_database_is_never_a_working_one():
    assert bench_database_url(None)[0].endswith("/wuxi_parking_bench")
    url, note = bench_database_url("postgres://u:p@127.0.0.1:5432/wuxi_parking")
    assert url == "postgres://u:p@127.0.0.1:5432/wuxi_parking_bench" and note
    assert bench_database_url("postgres://127.0.0.1/my_bench") == ("postgres://127.0.0.1/my_bench", None)
