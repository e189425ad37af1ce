"""Platform metrics for Prometheus (``/metrics``), shared by every worker process.

The API is three calls, cheap enough for any code path (they only touch this process's memory):

- ``count(name, labels, by=1)``: a counter (``*_total``), e.g. ``count("wxp_payment_notices_total",
  {"provider": "wechat", "outcome": "accepted"})``;
- ``observe(name, value, labels)``: a histogram, with the buckets ``describe`` gave it;
- ``gauge(name, value, labels)``: this process's current value; a scrape shows the sum over the
  processes alive now (connected viewers: each worker reports its own sockets).

Why counters in Redis rather than prometheus_client's multiprocess mode: that mode shares figures
through files in one directory, so it only adds up the workers of one machine, and each machine
must be scraped on its own. The platform's workers already share one Redis (DESIGN.md "Past one
machine"), so there the figures of every worker on every machine add up in one hash, and any
worker answers a scrape with the whole platform's figures. Nothing is sent per call: a thread in
each process flushes what it counted every ``METRICS_FLUSH_SECONDS`` (one pipelined round trip), so
ingest pays no Redis call per request, and an event loop never blocks on Redis. While Redis is
unreachable the deltas wait in memory and land when it answers (one warning a minute, no traceback).
A process that dies loses at most one flush interval of counts; its gauges expire after three.

Without ``REDIS_URL`` (the embedded default) the figures are this process's own.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings

from .outage import Outage

logger = logging.getLogger(__name__)
outage = Outage(logger, service="the metrics store (Redis)", consequence="counts are kept in memory until it answers")

Labels = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, Labels]

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter, gauge, histogram
    help: str
    buckets: tuple[float, ...] = ()


_described: dict[str, Metric] = {}


def describe(name: str, kind: str, help: str, *, buckets: Iterable[float] = DEFAULT_BUCKETS) -> Metric:
    """Declare a metric's type and help text (shown as ``# HELP``/``# TYPE``); a histogram's buckets."""
    if kind not in {"counter", "gauge", "histogram"}:
        raise ValueError(f"unknown metric kind {kind!r}")
    metric = Metric(name, kind, help, tuple(sorted(buckets)) if kind == "histogram" else ())
    _described[name] = metric
    return metric


def _labels(labels: Mapping[str, object] | None) -> Labels:
    return tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))


# --- this process's figures -----------------------------------------------------------------
_lock = threading.Lock()  # guards the dicts below, held for microseconds
_flush_lock = threading.Lock()  # one flush at a time: a scrape waits for the flusher's write to land
_pending: dict[SeriesKey, float] = {}  # counter and histogram-part deltas not yet flushed
_gauges: dict[SeriesKey, float] = {}  # this process's gauges (sent whole at every flush)
_pid: int | None = None
_flusher: threading.Thread | None = None


def count(name: str, labels: Mapping[str, object] | None = None, *, by: float = 1) -> None:
    """Add ``by`` to the counter ``name`` with these labels."""
    key = (name, _labels(labels))
    with _lock:
        _started()
        _pending[key] = _pending.get(key, 0) + by


def observe(name: str, value: float, labels: Mapping[str, object] | None = None) -> None:
    """Record one observation in the histogram ``name`` (``describe`` it first for its buckets)."""
    metric = _described.get(name)
    buckets = metric.buckets if metric and metric.buckets else DEFAULT_BUCKETS
    base = _labels(labels)
    with _lock:
        _started()
        for bound in buckets:  # stored cumulative: a bucket counts every observation at or below it
            if value <= bound:
                key = (f"{name}_bucket", (*base, ("le", _number(bound))))
                _pending[key] = _pending.get(key, 0) + 1
        for key, by in (((f"{name}_bucket", (*base, ("le", "+Inf"))), 1), ((f"{name}_count", base), 1),
                        ((f"{name}_sum", base), value)):
            _pending[key] = _pending.get(key, 0) + by


def gauge(name: str, value: float, labels: Mapping[str, object] | None = None) -> None:
    """Set this process's value of the gauge ``name``; a scrape adds up the live processes' values."""
    with _lock:
        _started()
        _gauges[(name, _labels(labels))] = value


def _started() -> None:
    """Under ``_lock``: forget a parent's figures after a fork, and start this process's flusher."""
    global _pid, _flusher
    if _pid == os.getpid():
        return
    if _pid is not None:  # a forked child (a Celery pool worker): the parent's figures are the parent's
        _pending.clear()
        _gauges.clear()
    _pid = os.getpid()
    if _store().shared:
        _flusher = threading.Thread(target=_flush_loop, name="metrics-flush", daemon=True)
        _flusher.start()


def _flush_loop() -> None:
    interval = float(getattr(settings, "METRICS_FLUSH_SECONDS", 5.0))
    while True:
        time.sleep(interval)
        flush()


def flush() -> None:
    """Send this process's counts since the last flush, and its gauges, to the shared store."""
    with _flush_lock:
        with _lock:
            deltas = dict(_pending)
            _pending.clear()
            gauges = dict(_gauges)
        try:
            _store().write(deltas, gauges)
        except Exception as exc:  # unreachable, timed out, read-only: keep the counts for the next flush
            outage.failed(exc)
            with _lock:
                for key, by in deltas.items():
                    _pending[key] = _pending.get(key, 0) + by
            return
        outage.answered()


def _after_fork_in_child() -> None:
    """A lock another thread held at the fork would stay held in the child forever: start afresh."""
    global _lock, _flush_lock
    _lock, _flush_lock = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


atexit.register(lambda: flush() if _pid == os.getpid() and _store().shared else None)


def collect() -> tuple[dict[SeriesKey, float], dict[SeriesKey, float]]:
    """(counters and histogram parts, gauges summed over the live processes), after flushing this one."""
    flush()
    return _store().read()


# --- stores ---------------------------------------------------------------------------------
class MemoryStore:
    """The embedded default: one process, its own figures."""

    shared = False

    def __init__(self):
        self.totals: dict[SeriesKey, float] = {}
        self.gauges: dict[SeriesKey, float] = {}

    def write(self, deltas: dict[SeriesKey, float], gauges: dict[SeriesKey, float]) -> None:
        for key, by in deltas.items():
            self.totals[key] = self.totals.get(key, 0) + by
        self.gauges = dict(gauges)

    def read(self):
        return dict(self.totals), dict(self.gauges)


class RedisStore:
    """Counters in one hash (HINCRBYFLOAT per series); each process's gauges in a key of its own that
    expires unless the process refreshes it."""

    shared = True

    def __init__(self, url: str, prefix: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self.counters_key = f"{prefix}:metrics:counters"
        self.gauge_prefix = f"{prefix}:metrics:gauges:"
        self.host = socket.gethostname()
        self.gauge_ttl = max(1, round(3 * float(getattr(settings, "METRICS_FLUSH_SECONDS", 5.0))))

    def write(self, deltas: dict[SeriesKey, float], gauges: dict[SeriesKey, float]) -> None:
        if not deltas and not gauges:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, by in deltas.items():
            pipe.hincrbyfloat(self.counters_key, _field(key), by)
        if gauges:
            blob = json.dumps([[name, list(labels), value] for (name, labels), value in gauges.items()])
            pipe.set(f"{self.gauge_prefix}{self.host}:{os.getpid()}", blob, ex=self.gauge_ttl)
        pipe.execute()

    def read(self):
        counters = {_unfield(field.decode()): float(value)
                    for field, value in self.client.hgetall(self.counters_key).items()}
        gauges: dict[SeriesKey, float] = {}
        keys = list(self.client.scan_iter(match=f"{self.gauge_prefix}*", count=500))
        for blob in self.client.mget(keys) if keys else ():
            if blob is None:  # expired between the scan and the read
                continue
            for name, labels, value in json.loads(blob):
                key = (name, tuple(tuple(pair) for pair in labels))
                gauges[key] = gauges.get(key, 0) + value
        return counters, gauges


def _field(key: SeriesKey) -> str:
    return json.dumps([key[0], list(key[1])], ensure_ascii=False, separators=(",", ":"))


def _unfield(field: str) -> SeriesKey:
    name, labels = json.loads(field)
    return name, tuple(tuple(pair) for pair in labels)


_stores: dict[tuple[str, str], MemoryStore | RedisStore] = {}


def _store() -> MemoryStore | RedisStore:
    url = settings.REDIS_URL or ""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "wxp")
    store = _stores.get((url, prefix))
    if store is None:
        store = RedisStore(url, prefix) if url else MemoryStore()
        _stores[(url, prefix)] = store
    return store


# --- the text exposition format -------------------------------------------------------------
def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(series_name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if series_name.endswith(suffix):
            base = series_name[: -len(suffix)]
            if base in _described and _described[base].kind == "histogram":
                return base
    return series_name


def render(series: Mapping[SeriesKey, float]) -> str:
    """Prometheus' text exposition format (version 0.0.4) for these series."""
    families: dict[str, list[tuple[SeriesKey, float]]] = {}
    for key, value in series.items():
        families.setdefault(_family(key[0]), []).append((key, value))
    lines: list[str] = []
    for family in sorted(families):
        metric = _described.get(family)
        kind = metric.kind if metric else ("counter" if family.endswith("_total") else "gauge")
        if metric:
            lines.append(f"# HELP {family} {_escape(metric.help)}")
        lines.append(f"# TYPE {family} {kind}")
        for (name, labels), value in sorted(families[family], key=lambda item: _sort_key(item[0])):
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


def _sort_key(key: SeriesKey):
    name, labels = key
    rest = tuple(pair for pair in labels if pair[0] != "le")
    le = dict(labels).get("le")
    bound = math.inf if le == "+Inf" else float(le) if le is not None else 0.0
    return name != f"{_family(name)}_bucket", name, rest, bound
