"""Map GeoJSON: ``GET /api/v1/map/lots.geojson`` of the whole demo city (5,000 lots), warm.

The client is what a browser is: one keep-alive connection, ``Accept-Encoding: gzip``, the time
from sending the request to the body's last byte. Cold: the first request after the servers'
cache entries are deleted (the snapshot is built from the database). Warm: ~50 requests in a row
after one priming request. The shared snapshot is fresh for 3 s and then rebuilt by one request
while the others are answered from the stale copy; back to back, the warm series stays inside one
freshness window, and the one request in a few seconds that rebuilds costs about the cold figure.

Baseline, same run: the same rows fetched with one raw SQL query (psycopg) and turned into the
same FeatureCollection with ``json.dumps``, per request — what serving it costs with no
framework and no cache.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from dataclasses import dataclass, field

import httpx
from psycopg import sql

from apps.lots.models import ParkingLot, Tariff
from apps.regions.models import Operator, Region

from .env import BenchEnv, BenchError, CpuMeter, Servers

PATH = "/api/v1/map/lots.geojson"


@dataclass
class MapResult:
    lots: int
    requests: int
    warm: list[float]
    cold: list[float]
    baseline: list[float]
    gzip_bytes: int
    json_bytes: int
    cpu: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]


def _get(client: httpx.Client, url: str) -> tuple[float, bytes, httpx.Response]:
    started = time.perf_counter()
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {raw[:300]!r}")
    return elapsed, raw, response


def _baseline_sql() -> sql.Composed:
    tables = [sql.Identifier(m._meta.db_table) for m in (ParkingLot, Region, Tariff, Operator)]
    return sql.SQL(
        "SELECT l.code, l.name, l.address, r.code, r.name, l.kind, l.lat, l.lon, l.total_berths, l.free_berths, "
        "l.ev_berths, l.accessible_berths, l.status, l.offline_since, "
        "COALESCE(l.occupancy_updated_at, l.updated_at), l.opening_hours, t.rules, o.name "
        "FROM {} l JOIN {} r ON r.id = l.region_id LEFT JOIN {} t ON t.id = l.tariff_id "
        "LEFT JOIN {} o ON o.id = l.operator_id ORDER BY l.code"
    ).format(*tables)


def _status(status: str, offline_since, free: int) -> str:
    if status == "closed":
        return "closed"
    if offline_since is not None:
        return "offline"
    return "full" if free <= 0 else "open"


def baseline_once(conn, query: sql.Composed) -> bytes:
    features = []
    for (code, name, address, region, region_name, kind, lat, lon, total, free, ev, accessible, status,
         offline_since, updated, hours, rules, operator) in conn.execute(query):
        features.append({
            "type": "Feature", "id": code, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "code": code, "name": name, "address": address, "region": region, "region_name": region_name,
                "kind": kind, "lat": lat, "lon": lon, "total_berths": total, "free_berths": free,
                "ev_berths": ev, "accessible_berths": accessible, "status": _status(status, offline_since, free),
                "updated_at": updated.isoformat() if updated else None, "opening_hours": hours, "tariff": rules,
                "operator": operator}})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def run(env: BenchEnv, servers: Servers, *, requests: int = 50, cold: int = 3, say=print) -> MapResult:
    url = servers.http_urls[0] + PATH
    cold_times, warm_times = [], []
    with httpx.Client(timeout=60) as client:
        say(f"map: {cold} cold requests…")
        for _ in range(cold):
            env.clear_cache()
            elapsed, raw, response = _get(client, url)
            cold_times.append(elapsed)
        body = gzip.decompress(raw) if response.headers.get("Content-Encoding") == "gzip" else raw
        features = json.loads(body)["features"]
        _get(client, url)  # prime
        say(f"map: {requests} warm requests…")
        with CpuMeter(servers=servers.pids) as meter:
            for _ in range(requests):
                elapsed, raw, _response = _get(client, url)
                warm_times.append(elapsed)
    with env.connect() as conn:
        query = _baseline_sql()
        baseline_once(conn, query)
        say(f"map: {requests} baseline builds (raw SQL + json.dumps)…")
        base_times = []
        for _ in range(requests):
            started = time.perf_counter()
            baseline_once(conn, query)
            base_times.append(time.perf_counter() - started)
    if statistics.median(warm_times) <= 0:
        raise BenchError("map timings are not positive")
    return MapResult(lots=len(features), requests=requests, warm=warm_times, cold=cold_times,
                     baseline=base_times, gzip_bytes=len(raw), json_bytes=len(body), cpu=meter.percent)
