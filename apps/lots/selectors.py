"""Reads of the lot registry that several callers share."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import NamedTuple

from django.db.models import Case, F, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common.cache import cache_add, cache_delete, cache_get, cache_set, cache_set_many
from apps.common.errors import Conflict, DomainError
from apps.common.geo import EARTH_RADIUS_M, BBox, bbox_contains, distance_m
from apps.regions.models import Region
from apps.regions.selectors import region_with_descendants

from . import fees
from .forecasts import forecast_expression, forecast_value
from .models import Device, FreeWindow, ParkingLot
from .tariff_rules import tariff_rules_error


def free_windows_by_lot(*, lots: Iterable[ParkingLot], start: datetime,
                        end: datetime) -> dict[int, list[tuple[datetime, datetime]]]:
    """Per lot id, the free windows that apply to it (city-wide, its region's or its own)
    overlapping [start, end), earliest first: one query for any number of lots."""
    lots = list(lots)
    if not lots:
        return {}
    rows = list(
        FreeWindow.objects.filter(starts_at__lt=end, ends_at__gt=start)
        .filter(Q(lot__isnull=True, region__isnull=True) | Q(region_id__in={lot.region_id for lot in lots})
                | Q(lot_id__in={lot.pk for lot in lots}))
        .order_by("starts_at", "pk")
        .values_list("starts_at", "ends_at", "region_id", "lot_id")
    )
    return {
        lot.pk: [(starts, ends) for starts, ends, region_id, lot_id in rows
                 if (region_id is None and lot_id is None) or region_id == lot.region_id or lot_id == lot.pk]
        for lot in lots
    }


def free_windows_for(*, lot: ParkingLot, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Free windows (city-wide, the lot's region or the lot itself) overlapping [start, end)."""
    return free_windows_by_lot(lots=[lot], start=start, end=end)[lot.pk]


# ---------------------------------------------------------------------------------------------------
# What a stay costs: the one pricing path of the fee quote and of an exit at the barrier.

# Any stay longer than a year is a wrong time, not a stay: it is not priced by guess (and a quote
# must not ask the engine to walk centuries of bands). The message of ``stay_check`` says 366.
MAX_PRICED_STAY = timedelta(days=366)
# Every *_fen column is a PositiveIntegerField: a 32-bit integer on PostgreSQL. An amount past it
# (only an absurd tariff gets there within a year) is refused, never stored or shown.
MAX_AMOUNT_FEN = 2**31 - 1


class StayNotPriceable(DomainError):
    """The stay (or the vehicle class) is not one the lot's tariff can price; ``field`` says which
    input. 400 ``invalid`` for a quote; an exit is released for staff review."""

    code = "invalid"


class NoTariff(Conflict):
    code = "no_tariff"


class AmountOutOfRange(Conflict):
    code = "amount_out_of_range"


def stay_check(*, entry: datetime, exit: datetime) -> None:
    """Raise ``StayNotPriceable`` unless [entry, exit] is a stay the platform prices: exit not before
    entry, at most ``MAX_PRICED_STAY``."""
    if exit < entry:
        raise StayNotPriceable(_("离场时间不能早于入场时间"), field="exit")
    if exit - entry > MAX_PRICED_STAY:
        raise StayNotPriceable(_("停车时长不能超过 366 天"), field="exit")


def fee_for_stay(*, lot: ParkingLot, entry: datetime, exit: datetime, vehicle_class: str, new_energy: bool = False,
                 free_windows: Sequence[tuple[datetime, datetime]] | None = None) -> int:
    """What a stay in ``lot`` costs in fen under its tariff and the free windows that apply (SPEC §6).

    ``free_windows`` may be given by a caller that read them in bulk (``free_windows_by_lot`` over a
    span covering the stay); otherwise they are read here. Raises ``StayNotPriceable`` (400) for a
    stay ``stay_check`` refuses, a class the tariff has no rules for or a time too close to the
    calendar's ends to compute with; ``NoTariff`` (409) when the lot has no tariff; ``InvalidTariff``
    (409) when its stored rules are not valid; ``AmountOutOfRange`` (409) past ``MAX_AMOUNT_FEN``.
    """
    stay_check(entry=entry, exit=exit)
    if lot.tariff is None:
        raise NoTariff(_("该停车场未登记收费标准，无法试算"), field="lot")
    try:
        if free_windows is None:
            free_windows = free_windows_for(lot=lot, start=entry, end=exit)
        amount = fees.compute_fee(lot.tariff.rules, vehicle_class=vehicle_class, entry=entry, exit=exit,
                                  new_energy=new_energy, free_windows=free_windows)
    except fees.FeeInputError as exc:
        if exc.field == "vehicle_class":
            message = _("该停车场的收费标准没有 %(class)s 车型的规则") % {"class": vehicle_class}
        else:
            message = exc.problem
        raise StayNotPriceable(message, field=exc.field or "entry") from exc
    except fees.TariffError as exc:  # saved past the engine's check (a bulk update, an old row)
        raise tariff_rules_error(exc, status=409, field="lot") from exc
    except OverflowError as exc:  # a time whose UTC or local day falls before year 1 or after 9999
        raise StayNotPriceable(_("时间超出可表示的范围"), field="entry") from exc
    if amount > MAX_AMOUNT_FEN:
        raise AmountOutOfRange(_("按该停车场的收费标准，这次停车的金额超出可记录的范围"), field="lot",
                               details={"max_amount_fen": MAX_AMOUNT_FEN})
    return amount


def device_by_access_key(access_key: str) -> Device | None:
    """The device with its permitted lot ids (``device.lot_ids``), or None."""
    device = Device.objects.filter(access_key=access_key).first()
    if device is not None:
        device.lot_ids = frozenset(device.lots.values_list("pk", flat=True))
    return device


def public_lots():
    """Lots as the public sees them, with the joins their representation needs."""
    return ParkingLot.objects.with_public_relations()


# ---------------------------------------------------------------------------------------------------
# Bulk public reads (map, open data): rows from .values(), never a model instance per lot.

# ParkingLot.public_status in SQL, so thousands of rows are read without building a model each.
# tests/lots/test_api.py checks that both agree for every state.
PUBLIC_STATUS_SQL = Case(
    When(status=ParkingLot.Status.CLOSED, then=Value("closed")),
    When(offline_since__isnull=False, then=Value("offline")),
    When(free_berths__lte=0, then=Value("full")),
    default=Value("open"),
)
# ParkingLot.updated_at_public: the occupancy time when there is one.
PUBLIC_UPDATED_AT_SQL = Coalesce(F("occupancy_updated_at"), F("updated_at"))


def region_ids_for_code(code: str) -> frozenset[int] | None:
    """The region with this code and every region below it (a city's code covers its districts);
    None when no region has the code."""
    pk = Region.objects.filter(code=code).values_list("pk", flat=True).first()
    if pk is None:
        return None
    return region_with_descendants(pk)


def public_lot_rows(queryset: QuerySet | None = None, *, extra: tuple[str, ...] = ()) -> QuerySet:
    """The SPEC §4 lot fields as flat ``.values()`` rows (status computed), plus the ``extra``
    fields or lookups a caller needs. Turn a row into the API's lot with ``PublicLotFormatter``.

    The tariff comes as its JSON text (``tariff_json``): thousands of lots share a dozen tariffs,
    and decoding each lot's copy was most of the time it took to read them all. The forecast comes
    from ``apps.lots.forecasts`` in the same query.
    """
    queryset = ParkingLot.objects.all() if queryset is None else queryset
    return queryset.annotate(
        public_status=PUBLIC_STATUS_SQL,
        public_updated_at=PUBLIC_UPDATED_AT_SQL,
        tariff_json=Cast("tariff__rules", output_field=TextField()),
        public_forecast=forecast_expression(),
    ).values(
        "code", "name", "address", "region__code", "region__name", "kind", "lat", "lon", "total_berths",
        "free_berths", "ev_berths", "accessible_berths", "public_status", "public_updated_at", "opening_hours",
        "tariff_json", "operator__name", "public_forecast", *extra,
    )


class PublicLotFormatter:
    """``public_lot_rows`` rows in the shape of the API's lot (LotSerializer), each distinct tariff
    decoded once. One formatter per batch of rows."""

    def __init__(self):
        self._tariffs: dict[str, object] = {}
        self._tz = timezone.get_current_timezone()

    def tariff(self, text: str | None):
        if text is None:
            return None
        if text not in self._tariffs:
            self._tariffs[text] = json.loads(text)
        return self._tariffs[text]

    def time(self, value: datetime | None) -> str | None:
        return value.astimezone(self._tz).isoformat() if value else None

    def __call__(self, row: dict) -> dict:
        return {
            "code": row["code"],
            "name": row["name"],
            "address": row["address"],
            "region": row["region__code"],
            "region_name": row["region__name"],
            "kind": row["kind"],
            "lat": row["lat"],
            "lon": row["lon"],
            "total_berths": row["total_berths"],
            "free_berths": row["free_berths"],
            "ev_berths": row["ev_berths"],
            "accessible_berths": row["accessible_berths"],
            "status": row["public_status"],
            "updated_at": self.time(row["public_updated_at"]),
            "opening_hours": row["opening_hours"],
            "tariff": self.tariff(row["tariff_json"]),
            "operator": row["operator__name"],
            "forecast": forecast_value(row["public_forecast"]),
        }


# ---------------------------------------------------------------------------------------------------
# Nearest lots

_NEAREST_FIRST_RADIUS_M = 1_000.0
# Past this the box covers all of Wuxi (about 100 km across): scan everything that matches instead.
_NEAREST_MAX_RADIUS_M = 128_000.0


def lots_nearest(*, queryset: QuerySet, lat: float, lon: float, limit: int) -> list[ParkingLot]:
    """The ``limit`` lots of ``queryset`` closest to (lat, lon) by straight-line distance, nearest
    first, each with ``distance_m``.

    Looks in a box around the point that doubles until it holds ``limit`` lots within the box's
    inner circle (a lot outside the box is farther than anything in that circle, so the answer is
    exact), instead of measuring every lot in the city on each request.
    """
    radius = _NEAREST_FIRST_RADIUS_M
    while True:
        box = _box_around(lat, lon, radius) if radius <= _NEAREST_MAX_RADIUS_M else None
        candidates = queryset if box is None else queryset.filter(
            lat__gte=box[0], lat__lte=box[1], lon__gte=box[2], lon__lte=box[3])
        scored = sorted(
            (distance_m(lat, lon, row_lat, row_lon), pk)
            for pk, row_lat, row_lon in candidates.order_by().values_list("pk", "lat", "lon")
        )
        if box is not None:
            scored = [item for item in scored if item[0] <= radius]
        if box is None or len(scored) >= limit:
            break
        radius *= 2
    chosen = scored[:limit]
    lots = queryset.in_bulk([pk for _, pk in chosen])
    result = []
    for distance, pk in chosen:
        lot = lots[pk]
        lot.distance_m = round(distance)
        result.append(lot)
    return result


def _box_around(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float] | None:
    """(minLat, maxLat, minLon, maxLon) enclosing the circle; None where a plain box cannot
    (near a pole or across the antimeridian): the caller then scans everything."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    cos_lat = math.cos(math.radians(lat))
    if abs(lat) + dlat >= 89.0 or cos_lat <= 0:
        return None
    dlon = dlat / cos_lat
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return None
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


# ---------------------------------------------------------------------------------------------------
# The shared snapshot of the public lots: the map's GeoJSON and the public list and nearest reads

# The map page loads the GeoJSON first, and every viewer asks for the same thing: build it once per
# MAP_SNAPSHOT_FRESH_S and hand the same gzip bytes to everyone. Live changes reach open pages
# over the WebSocket, so a few seconds of age costs nothing. The public list and nearest reads are
# answered from the same build (``lot_snapshot``), so their counts are exactly as fresh as the map's.
MAP_SNAPSHOT_FRESH_S = 3
# A stale snapshot is kept this long so that while one request rebuilds, the others are answered
# from it at once instead of all rebuilding together.
MAP_SNAPSHOT_KEEP_S = 120
_MAP_SNAPSHOT_LOCK_S = 30
_MAP_SNAPSHOT_VERSION = 3  # 3: each lot carries its forecast
_LOTS_STATE_KEY = f"lots-snapshot:v{_MAP_SNAPSHOT_VERSION}:state"


@dataclass(frozen=True)
class MapSnapshot:
    body_gzip: bytes
    etag: str
    built_at: float

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.body_gzip)


class PublicLot(NamedTuple):
    """One lot of the shared snapshot: the values the public filters look at, and the lot's SPEC §4
    object already encoded as JSON (``json``), so a page of lots is a join of texts."""

    code: str
    name: str
    address: str
    region_id: int
    kind: str
    lat: float
    lon: float
    free_berths: int
    ev_berths: int
    accessible_berths: int
    status: str
    json: str


@dataclass(frozen=True)
class LotSnapshot:
    """Every lot ordered by code, as of ``built_at`` (the same build as the map's GeoJSON).

    Each process decodes a build once and keeps it; the indexes below are worked out on first use
    and live as long as the build does."""

    lots: tuple[PublicLot, ...]
    build_id: str
    built_at: float

    @cached_property
    def _by_lat(self) -> tuple[list[float], list[int]]:
        order = sorted(range(len(self.lots)), key=lambda index: self.lots[index].lat)
        return [self.lots[index].lat for index in order], order

    @cached_property
    def _memo(self) -> dict:
        return {}

    def positions_in_band(self, min_lat: float, max_lat: float) -> list[int]:
        """Positions (in code order) of the lots with min_lat ≤ lat ≤ max_lat, by bisection."""
        lats, order = self._by_lat
        return order[bisect_left(lats, min_lat):bisect_right(lats, max_lat)]

    def remember(self, key: tuple, compute: Callable[[], object]):
        """``compute()``, remembered under ``key`` for as long as this build is the current one: the
        same filters asked again (a sweep's pages, a popular box, nearest's defaults) cost a lookup."""
        memo = self._memo
        if key in memo:
            return memo[key]
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        found = memo[key] = compute()
        return found


# Entries remembered per build and process: parsed filters and lists of references to the lots.
_MEMO_SIZE = 512


def map_snapshot_key(*, region: str | None, kind: str | None) -> str:
    return f"lots-geojson:v{_MAP_SNAPSHOT_VERSION}:{region or '*'}:{kind or '*'}"


def _lots_key(build_id: str) -> str:
    return f"lots-snapshot:v{_MAP_SNAPSHOT_VERSION}:{build_id}"


def map_geojson(*, region: str | None = None, kind: str | None = None) -> MapSnapshot | None:
    """The lots (optionally of a region, by code, including the regions below it, and of a kind)
    as a GeoJSON FeatureCollection, from the shared cache when it is fresh. None when no region
    has that code.

    A warm request costs no query at all; the region is only looked up when the snapshot is built.
    """
    key = map_snapshot_key(region=region, kind=kind)
    snapshot = cache_get(key)  # None too when the cache is unreachable: built from the database
    if snapshot is not None and time.time() - snapshot.built_at < MAP_SNAPSHOT_FRESH_S:
        return snapshot
    locked = snapshot is not None and cache_add(f"{key}:lock", 1, timeout=_MAP_SNAPSHOT_LOCK_S)
    if snapshot is not None and not locked:
        return snapshot  # someone else is rebuilding it right now
    try:
        if not region and not kind:
            return _rebuild_all()[0]
        queryset = ParkingLot.objects.all()
        if region:
            region_ids = region_ids_for_code(region)
            if region_ids is None:
                return None
            queryset = queryset.filter(region_id__in=region_ids)
        if kind:
            queryset = queryset.filter(kind=kind)
        snapshot, _lots = _build_snapshot(queryset)
        cache_set(key, snapshot, timeout=MAP_SNAPSHOT_KEEP_S)
    finally:
        if locked:
            cache_delete(f"{key}:lock")
    return snapshot


# This process's decoded copy of the last snapshot it read: a warm public read fetches only the
# small state entry from the cache and finds the lots here.
_local_snapshot: LotSnapshot | None = None


def lot_snapshot() -> LotSnapshot:
    """Every lot as the public sees it, from the build the map's GeoJSON is served from: rebuilt
    (with the GeoJSON) once it is MAP_SNAPSHOT_FRESH_S old, by one request while the others read
    the stale one. A warm read costs no query and one small cache read."""
    global _local_snapshot
    state = cache_get(_LOTS_STATE_KEY)  # (build_id, built_at); None too when the cache is unreachable
    if state is not None and time.time() - state[1] >= MAP_SNAPSHOT_FRESH_S:
        lock = map_snapshot_key(region=None, kind=None) + ":lock"
        if cache_add(lock, 1, timeout=_MAP_SNAPSHOT_LOCK_S):
            try:
                return _rebuild_all()[1]
            finally:
                cache_delete(lock)
        # someone else is rebuilding it right now: the stale one below
    local = _local_snapshot
    if state is not None and local is not None and local.build_id == state[0]:
        return local
    lots = cache_get(_lots_key(state[0])) if state is not None else None
    if lots is None:
        return _rebuild_all()[1]
    local = _local_snapshot = LotSnapshot(lots=lots, build_id=state[0], built_at=state[1])
    return local


def _rebuild_all() -> tuple[MapSnapshot, LotSnapshot]:
    """Build the whole city's snapshot once and share it: the GeoJSON and the lots for the API."""
    global _local_snapshot
    geojson, lots = _build_snapshot(ParkingLot.objects.all())
    snapshot = LotSnapshot(lots=lots, build_id=uuid.uuid4().hex, built_at=geojson.built_at)
    cache_set_many({
        _lots_key(snapshot.build_id): lots,
        map_snapshot_key(region=None, kind=None): geojson,
        _LOTS_STATE_KEY: (snapshot.build_id, snapshot.built_at),
    }, timeout=MAP_SNAPSHOT_KEEP_S)
    _local_snapshot = snapshot
    return geojson, snapshot


def _build_snapshot(queryset: QuerySet) -> tuple[MapSnapshot, tuple[PublicLot, ...]]:
    formatter = PublicLotFormatter()
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    encoded_tariffs: dict[str | None, str] = {}
    lots, features = [], []
    for row in public_lot_rows(queryset.order_by("code"), extra=("region_id",)):
        properties = formatter(row)
        tariff, operator, forecast = properties.pop("tariff"), properties.pop("operator"), properties.pop("forecast")
        if row["tariff_json"] not in encoded_tariffs:
            encoded_tariffs[row["tariff_json"]] = encode(tariff)
        # Each tariff is encoded once and put back in its place (the lot's last members are the
        # tariff, the operator and the forecast, as in LotSerializer): re-encoding the same dozen
        # rule sets for thousands of lots was half of the build time.
        tariff_text = encoded_tariffs[row["tariff_json"]]
        text = (f'{encode(properties)[:-1]},"tariff":{tariff_text},"operator":{encode(operator)},'
                f'"forecast":{encode(forecast)}}}')
        lots.append(PublicLot(
            code=row["code"], name=row["name"], address=row["address"], region_id=row["region_id"],
            kind=row["kind"], lat=row["lat"], lon=row["lon"], free_berths=row["free_berths"],
            ev_berths=row["ev_berths"], accessible_berths=row["accessible_berths"], status=row["public_status"],
            json=text))
        features.append(f'{{"type":"Feature","id":{encode(row["code"])},"geometry":{{"type":"Point",'
                        f'"coordinates":{encode([row["lon"], row["lat"]])}}},"properties":{text}}}')
    body = ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode()
    # Level 6: within 2 % of level 9's size at half its time (measured on 5,000 lots: 280 kB of 5 MB).
    geojson = MapSnapshot(body_gzip=gzip.compress(body, compresslevel=6, mtime=0),
                          etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
                          built_at=time.time())
    return geojson, tuple(lots)


# ---------------------------------------------------------------------------------------------------
# Public reads from the snapshot: filters and nearest in memory, the same rules as LotFilter's SQL

def snapshot_lots_filtered(snapshot: LotSnapshot, *, region: frozenset[int] | None = None,
                           kind: str | None = None, has_ev: bool | None = None,
                           has_accessible: bool | None = None, min_free: int | None = None,
                           bbox: BBox | None = None, q: str | None = None) -> list[PublicLot]:
    """The lots matching the public list's filters (``apps.lots.api.filters.LotFilter``, whose
    cleaned values these are), in code order."""
    needle = (q or "").strip().upper()
    key = ("lots", region, kind, has_ev, has_accessible, min_free or 0, bbox, needle)
    return snapshot.remember(key, lambda: _lots_matching(
        snapshot, region=region, kind=kind, has_ev=has_ev, has_accessible=has_accessible, min_free=min_free,
        bbox=bbox, needle=needle))


def _lots_matching(snapshot: LotSnapshot, *, region, kind, has_ev, has_accessible, min_free, bbox,
                   needle) -> list[PublicLot]:
    if bbox is None:
        selected = list(snapshot.lots)
    else:  # the latitude band by bisection, then the longitudes
        band = sorted(snapshot.positions_in_band(bbox.min_lat, bbox.max_lat))
        selected = [lot for lot in (snapshot.lots[index] for index in band)
                    if bbox_contains(bbox, lot.lat, lot.lon)]
    return _apply(selected, region=region, kind=kind, has_ev=has_ev, has_accessible=has_accessible,
                  min_free=min_free, needle=needle)


def _apply(selected: list[PublicLot], *, region, kind, has_ev, has_accessible, min_free, needle) -> list[PublicLot]:
    if region is not None:
        selected = [lot for lot in selected if lot.region_id in region]
    if kind:
        selected = [lot for lot in selected if lot.kind == kind]
    if has_ev is not None:
        selected = [lot for lot in selected if (lot.ev_berths > 0) is has_ev]
    if has_accessible is not None:
        selected = [lot for lot in selected if (lot.accessible_berths > 0) is has_accessible]
    if min_free:  # > 0: only open, online lots (a closed or offline lot's count is not trusted)
        selected = [lot for lot in selected if lot.status == "open" and lot.free_berths >= min_free]
    if needle:  # icontains, as the database compares: both sides upper-cased
        selected = [lot for lot in selected
                    if needle in lot.name.upper() or needle in lot.address.upper() or needle in lot.code.upper()]
    return selected


# In memory a box that must grow costs a bisection, not a query: start small (the city centre has
# hundreds of lots within a kilometre, each one distance to compute).
_SNAPSHOT_NEAREST_FIRST_RADIUS_M = 250.0


def snapshot_lots_nearest(snapshot: LotSnapshot, *, lat: float, lon: float, limit: int,
                          **filters) -> list[tuple[int, PublicLot]]:
    """``lots_nearest`` over the snapshot: the ``limit`` lots matching ``filters`` (as
    ``snapshot_lots_filtered``'s) closest to (lat, lon), nearest first, with their distance in
    metres. The same growing box, read from the latitude index, so the answer is exact."""
    needle = (filters.pop("q", None) or "").strip().upper()
    bbox = filters.pop("bbox", None)
    radius = _SNAPSHOT_NEAREST_FIRST_RADIUS_M
    while True:
        box = _box_around(lat, lon, radius) if radius <= _NEAREST_MAX_RADIUS_M else None
        if box is None:
            candidates = snapshot_lots_filtered(snapshot, bbox=bbox, q=needle, **filters)
        else:
            min_lat, max_lat, min_lon, max_lon = box
            near = [snapshot.lots[index] for index in snapshot.positions_in_band(min_lat, max_lat)]
            near = [lot for lot in near if min_lon <= lot.lon <= max_lon
                    and (bbox is None or bbox_contains(bbox, lot.lat, lot.lon))]
            candidates = _apply(near, needle=needle, **{"region": None, "kind": None, "has_ev": None,
                                                       "has_accessible": None, "min_free": None, **filters})
        scored = sorted((distance_m(lat, lon, lot.lat, lot.lon), lot.code) for lot in candidates)
        if box is not None:
            scored = [item for item in scored if item[0] <= radius]
        if box is None or len(scored) >= limit:
            break
        radius *= 2
    by_code = {lot.code: lot for lot in candidates}
    return [(round(distance), by_code[code]) for distance, code in scored[:limit]]
