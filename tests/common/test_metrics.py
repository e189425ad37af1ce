"""apps.common.metrics: counts wait out an unreachable store, and the exposition format holds."""

from __future__ import annotations

import logging

from django.test import override_settings

from apps.common import metrics


def _total(name: str, **labels) -> float:
    counted, _gauges = metrics.collect()
    return counted.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))), 0.0)


def test_counts_made_while_the_store_is_unreachable_land_when_it_answers(caplog):
    before = _total("wxp_test_outage_total", kind="x")
    metrics.outage.reset()  # its one-warning-a-minute clock starts here
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"), caplog.at_level(logging.WARNING):
        metrics.count("wxp_test_outage_total", {"kind": "x"}, by=3)
        metrics.flush()  # refused at once: nothing listens on port 1
        metrics.flush()
    assert [r for r in caplog.records if "metrics store" in r.getMessage()], "the outage was not logged"
    assert len([r for r in caplog.records if "metrics store" in r.getMessage()]) == 1  # once, not per flush
    assert _total("wxp_test_outage_total", kind="x") == before + 3


def test_a_histogram_renders_cumulative_buckets_in_order():
    metrics.describe("wxp_test_latency_seconds", "histogram", "test", buckets=(1.0, 0.1))
    text = metrics.render({
        ("wxp_test_latency_seconds_bucket", (("le", "+Inf"),)): 3,
        ("wxp_test_latency_seconds_bucket", (("le", "1"),)): 2,
        ("wxp_test_latency_seconds_bucket", (("le", "0.1"),)): 1,
        ("wxp_test_latency_seconds_count", ()): 3,
        ("wxp_test_latency_seconds_sum", ()): 7.55,
    })
    assert text.splitlines() == [
        "# HELP wxp_test_latency_seconds test",
        "# TYPE wxp_test_latency_seconds histogram",
        'wxp_test_latency_seconds_bucket{le="0.1"} 1',
        'wxp_test_latency_seconds_bucket{le="1"} 2',
        'wxp_test_latency_seconds_bucket{le="+Inf"} 3',
        "wxp_test_latency_seconds_count 3",
        "wxp_test_latency_seconds_sum 7.55",
    ]


def test_an_unknown_kind_is_refused():
    import pytest

    with pytest.raises(ValueError, match="unknown metric kind"):
        metrics.describe("wxp_x", "summary", "no")
