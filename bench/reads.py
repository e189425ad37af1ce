"""Public reads: the lot list, a ~100-lot page and nearest, each beside the map's GeoJSON in the same run.

- **sweep**: all lots through ``GET /api/v1/lots/?page_size=1000``, page after page until ``next`` is
  null (five pages for 5,000 lots), one keep-alive client alternating between the servers as a load
  balancer would; the time of the whole sweep, ``sweeps`` times.
- **page**: ``GET /api/v1/lots/?bbox=…&page_size=100``, a box around the city centre sized to hold
  about 100 lots; requests per second from ``clients`` concurrent keep-alive clients (half on each
  server) for ``seconds``.
- **nearest**: ``GET /api/v1/lots/nearest?lat=&lon=&limit=10`` at points drawn around the centre, the
  same way.
- **GeoJSON**: the map's ``/api/v1/map/lots.geojson`` (gzip), measured the same ways in the same run.

Freshness: the list and nearest are answered from the same snapshot as the GeoJSON. The run changes
one lot's count in the database and times how long until the list and the GeoJSON both show it.

Baseline, same run: the sweep's pages built in this process the way every request built them before
(the FilterSet's query and ``LotSerializer`` per row, rendered with DRF's ``JSONRenderer``).
"""

from __future__ import annotations

import json
import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx

from apps.lots.models import ParkingLot

from .env import BenchError, CpuMeter, Servers

LIST = "/api/v1/lots/"
NEAREST = "/api/v1/lots/nearest"
GEOJSON = "/api/v1/map/lots.geojson"
CENTRE = (31.5747, 120.2965)  # 三阳广场, Wuxi's centre

SWEEP_GOAL_S = 0.220
PAGE_GOAL_RPS = 125.0
NEAREST_GOAL_RPS = 200.0


@dataclass
class Throughput:
    requests: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class ReadsResult:
    lots: int
    sweeps: list[float]
    sweep_pages: int
    sweep_bytes: int
    sweep_cpu: dict[str, float]
    geojson_single: list[float]
    page_lots: int
    bbox: str
    page: list[Throughput]
    nearest: list[Throughput]
    geojson: list[Throughput]
    baseline_sweeps: list[float]
    clients: int
    servers: int
    freshness_list_s: float | None = None
    freshness_geojson_s: float | None = None

    @staticmethod
    def rates(series: list[Throughput]) -> list[float]:
        return [t.rate for t in series]


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise BenchError(f"GET {response.request.url} answered {response.status_code}: {response.text[:300]}")
    return response


def fetch(client: httpx.Client, url: str, **kwargs) -> bytes:
    """The body as sent (not decompressed: the client's own work is not the server's), to the last byte."""
    with client.stream("GET", url, **kwargs) as response:
        raw = b"".join(response.iter_raw())
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {raw[:300]!r}")
    return raw


_NEXT = re.compile(rb'^\{"count":\d+,"next":(null|"[^"]*")')


def sweep_once(clients: list[httpx.Client], *, parse: bool = False) -> tuple[float, int, int, int]:
    """(seconds, pages, lots, bytes) of one sweep of the whole list. Timed, only the head of each page
    is read for its ``next`` link; ``parse`` decodes every page to count the lots."""
    started = time.perf_counter()
    url, pages, lots, size = f"{LIST}?page_size=1000", 0, 0, 0
    while url:
        raw = fetch(clients[pages % len(clients)], url)
        pages += 1
        size += len(raw)
        if parse:
            body = json.loads(raw)
            lots += len(body["results"])
            link = body["next"]
        else:
            match = _NEXT.match(raw)
            if match is None:
                raise BenchError(f"{url}: not a page of the list: {raw[:200]!r}")
            link = json.loads(match.group(1))
        url = link and link[link.index("/api/"):]
    return time.perf_counter() - started, pages, lots, size


def bbox_for(count: int, centre: tuple[float, float] = CENTRE) -> tuple[str, int]:
    """A square box around ``centre`` holding about ``count`` lots (at least that many), and how many."""
    coords = list(ParkingLot.objects.values_list("lat", "lon"))
    if not coords:
        raise BenchError("the benchmark database has no lots")
    count = min(count, len(coords))  # a small city (the smoke test): the box holds every lot
    low, high = 0.0, 2.0
    for _ in range(40):
        half = (low + high) / 2
        inside = sum(1 for lat, lon in coords if abs(lat - centre[0]) <= half and abs(lon - centre[1]) <= half)
        if inside >= count:
            high = half
        else:
            low = half
    half = high
    inside = sum(1 for lat, lon in coords if abs(lat - centre[0]) <= half and abs(lon - centre[1]) <= half)
    box = f"{centre[1] - half:.6f},{centre[0] - half:.6f},{centre[1] + half:.6f},{centre[0] + half:.6f}"
    return box, inside


def hammer(servers: Servers, urls: list[str], *, clients: int, seconds: float) -> Throughput:
    """``clients`` keep-alive clients (alternating servers) asking ``urls`` in turn for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    stop = threading.Event()
    meter = CpuMeter(servers=servers.pids)
    barrier = threading.Barrier(clients + 1)

    def work(index: int) -> None:
        try:
            with httpx.Client(base_url=servers.http_urls[index % len(servers.http_urls)], timeout=60) as client:
                fetch(client, urls[index % len(urls)])  # warm the connection
                barrier.wait(timeout=60)
                n = index
                while not stop.is_set():
                    started = time.perf_counter()
                    fetch(client, urls[n % len(urls)])
                    latencies[index].append(time.perf_counter() - started)
                    n += clients
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=120)
    meter.start()
    started = time.monotonic()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.monotonic() - started
    meter.__exit__(None, None, None)
    if errors:
        raise errors[0]
    flat = [x for series in latencies for x in series]
    return Throughput(requests=len(flat), seconds=elapsed, latencies=flat, cpu=meter.percent)


def baseline_sweep() -> float:
    """The five pages as each request built them before the snapshot: FilterSet query + LotSerializer."""
    from rest_framework.renderers import JSONRenderer

    from apps.lots.api.serializers import LotSerializer
    from apps.lots.selectors import public_lots

    started = time.perf_counter()
    queryset = public_lots().order_by("code")
    total = queryset.count()
    renderer = JSONRenderer()
    for offset in range(0, total, 1000):
        data = {"count": queryset.count(), "next": None, "previous": None,
                "results": LotSerializer(queryset[offset:offset + 1000], many=True).data}
        renderer.render(data)
    return time.perf_counter() - started


def freshness(servers: Servers, *, timeout: float = 15.0) -> tuple[float | None, float | None]:
    """Seconds until a count changed in the database shows in the list and in the GeoJSON."""
    lot = ParkingLot.objects.filter(total_berths__gt=2).order_by("code").first()
    if lot is None:
        return None, None
    target = 1 if lot.free_berths != 1 else 2
    ParkingLot.objects.filter(pk=lot.pk).update(free_berths=target)
    started = time.monotonic()
    seen: dict[str, float] = {}
    with httpx.Client(base_url=servers.http_urls[-1], timeout=30) as client:
        while len(seen) < 2 and time.monotonic() - started < timeout:
            if "list" not in seen:
                body = _check(client.get(LIST, params={"q": lot.code, "page_size": 1000})).json()
                if any(item["code"] == lot.code and item["free_berths"] == target for item in body["results"]):
                    seen["list"] = time.monotonic() - started
            if "geojson" not in seen:
                body = _check(client.get(GEOJSON)).json()
                if any(f["id"] == lot.code and f["properties"]["free_berths"] == target for f in body["features"]):
                    seen["geojson"] = time.monotonic() - started
            time.sleep(0.05)
    return seen.get("list"), seen.get("geojson")


def run(servers: Servers, *, sweeps: int = 20, seconds: float = 4.0, rounds: int = 3, clients: int = 4,
        points: int = 200, seed: int = 1, say=print) -> ReadsResult:
    lots = ParkingLot.objects.count()
    box, page_lots = bbox_for(100)
    rng = random.Random(seed)
    nearest_urls = [f"{NEAREST}?lat={CENTRE[0] + rng.uniform(-0.05, 0.05):.5f}"
                    f"&lon={CENTRE[1] + rng.uniform(-0.06, 0.06):.5f}&limit=10" for _ in range(points)]
    page_url = f"{LIST}?bbox={box}&page_size=100"
    geojson_headers = {"Accept-Encoding": "gzip"}

    say(f"reads: {sweeps} sweeps of the {lots:,}-lot list (page_size=1000) and of the GeoJSON…")
    http = [httpx.Client(base_url=url, timeout=60) for url in servers.http_urls]
    try:
        for _ in range(len(http)):  # warm: the snapshot is built, each process has decoded it
            _elapsed, pages, seen, size = sweep_once(http, parse=True)
            if seen != lots:
                raise BenchError(f"a sweep of the list gave {seen} lots of {lots}")
        sweep_times, geo_times = [], []
        meter = CpuMeter(servers=servers.pids)
        meter.start()
        for _ in range(sweeps):
            elapsed, pages, _seen, size = sweep_once(http)
            sweep_times.append(elapsed)
            started = time.perf_counter()
            fetch(http[0], GEOJSON, headers=geojson_headers)
            geo_times.append(time.perf_counter() - started)
        meter.__exit__(None, None, None)
    finally:
        for client in http:
            client.close()

    page, near, geo = [], [], []
    for number in range(rounds):
        say(f"reads round {number + 1}/{rounds}: {clients} clients × {seconds:.0f} s each on the {page_lots}-lot "
            "page, nearest and the GeoJSON…")
        page.append(hammer(servers, [page_url], clients=clients, seconds=seconds))
        near.append(hammer(servers, nearest_urls, clients=clients, seconds=seconds))
        geo.append(hammer(servers, [GEOJSON], clients=clients, seconds=seconds))
        say(f"reads round {number + 1}: page {page[-1].rate:,.0f} req/s, nearest {near[-1].rate:,.0f} req/s, "
            f"GeoJSON {geo[-1].rate:,.0f} req/s")

    say("reads: freshness probe and the in-process serializer baseline…")
    fresh_list, fresh_geo = freshness(servers)
    baseline = [baseline_sweep() for _ in range(3)]
    return ReadsResult(lots=lots, sweeps=sweep_times, sweep_pages=pages, sweep_bytes=size, sweep_cpu=meter.percent,
                       geojson_single=geo_times, page_lots=min(100, page_lots), bbox=box, page=page, nearest=near,
                       geojson=geo, baseline_sweeps=baseline, clients=clients, servers=len(servers.ports),
                       freshness_list_s=fresh_list, freshness_geojson_s=fresh_geo)


def summary(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)
