"""The demo city as plain data: which lots, where, how big, how full. No database here.

Everything comes from one ``random.Random(seed)`` drawn in a fixed order, and occupancy is read at
the fixed ``DEMO_CLOCK``, so the same ``(lots, seed)`` always gives the same city, field for field.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from apps.common.geo import in_wuxi
from apps.lots.fees import SHANGHAI

from . import names
from .operators import operator_for
from .places import CLUSTERS, LANDMARKS, REGIONS, Cluster, Landmark, in_water
from .simulation import profile_for, target_occupancy

__all__ = ["DEMO_CLOCK", "BerthPlan", "LotPlan", "plan_city"]

# The moment the demo's occupancy describes: a Wednesday mid-morning (offices and hospitals full,
# malls filling). Fixed, never the real clock, so a seed always yields the same counts.
DEMO_CLOCK: Final = datetime(2026, 3, 18, 10, 30, tzinfo=SHANGHAI)

_KM_PER_DEG_LAT: Final = 111.32
_MAX_TRIES: Final = 200

# What kind of lot a random pick in a cluster is, by the cluster's zone (道路泊位 densest in the core).
_CATEGORY_WEIGHTS: Final = {
    "core": {"road": 34, "mall": 14, "public": 16, "office": 12, "residential": 16, "scenic": 4, "transport": 4},
    "center": {"road": 24, "mall": 12, "public": 14, "office": 14, "residential": 26, "scenic": 4, "transport": 6},
    "outer": {"road": 16, "mall": 10, "public": 16, "office": 12, "residential": 36, "scenic": 5, "transport": 5},
}
_BERTHS: Final = {  # (min, max) total berths of a generated lot
    "mall": (300, 1500), "office": (100, 600), "residential": (80, 800), "public": (40, 400),
    "scenic": (80, 600), "transport": (150, 1200), "hospital": (300, 1200),
}
_ROAD_BERTHS: Final = {"core": (12, 48), "center": (10, 40), "outer": (8, 30)}
_OPENING_HOURS: Final = {"mall": "08:00-23:00", "office": "07:00-22:00", "scenic": "07:30-18:00",
                         "road": "07:00-20:00"}
_FILING: Final = (("filed", 72), ("pending", 12), ("unfiled", 10), ("revoked", 6))
_COMPLIANCE_OFF_STREET: Final = (("advanced", 15), ("standard", 45), ("basic", 30), ("none", 10))
_COMPLIANCE_ON_STREET: Final = (("advanced", 55), ("standard", 30), ("basic", 10), ("none", 5))
# A busy core street fills more than the city-wide on-street curve, an outer one less.
_ROAD_ZONE_SHIFT: Final = {"core": 0.05, "center": 0.0, "outer": -0.15}
_SENSOR_PREFIX: Final = {"advanced": "GM", "standard": "SP"}  # geomagnetic / video pile; others report counts only


@dataclass(frozen=True, slots=True)
class BerthPlan:
    code: str
    kind: str
    floor: str
    sensor_id: str
    state: str


@dataclass(frozen=True, slots=True)
class LotPlan:
    code: str
    name: str
    address: str
    region: str
    operator: str  # OperatorSpec.key
    kind: str
    category: str
    zone_class: str
    road_class: str
    lat: float
    lon: float
    total_berths: int
    ev_berths: int
    accessible_berths: int
    reservable_berths: int
    free_berths: int
    opening_hours: str
    allow_pay_later: bool
    filing_status: str
    compliance_level: str
    status: str
    berths: tuple[BerthPlan, ...]


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in pairs], weights=[w for _, w in pairs])[0]


def _apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split ``total`` by ``weights`` (largest remainder), each share at least ``minimum`` if it fits."""
    floor = minimum if total >= minimum * len(weights) else 0
    rest = total - floor * len(weights)
    whole = sum(weights)
    raw = [rest * w / whole for w in weights]
    shares = [math.floor(r) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (-(raw[i] - shares[i]), i))
    for i in by_remainder[: rest - sum(shares)]:
        shares[i] += 1
    return [floor + s for s in shares]


def _point(rng: random.Random, cluster: Cluster) -> tuple[float, float]:
    """A point in the cluster's circle, denser towards the centre, on land and inside Wuxi."""
    for _ in range(_MAX_TRIES):
        distance = cluster.radius_km * rng.random() ** 0.75
        bearing = rng.random() * 2 * math.pi
        lat = cluster.lat + distance * math.cos(bearing) / _KM_PER_DEG_LAT
        lon = cluster.lon + distance * math.sin(bearing) / (_KM_PER_DEG_LAT * math.cos(math.radians(cluster.lat)))
        lat, lon = round(lat, 6), round(lon, 6)
        if in_wuxi(lat, lon) and not in_water(lat, lon):
            return lat, lon
    raise ValueError(f"cluster {cluster.key} has no land to place a lot on")


class _Namer:
    """Names that read like Wuxi's and never repeat: a repeat gets a part (东区, 东段) or a number."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, stem: str, suffix: str, parts: Sequence[str]) -> str:
        for candidate in [stem + suffix] + [stem + part + suffix for part in parts]:
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate
        n = 2
        while f"{stem}{suffix}（{n}）" in self.used:
            n += 1
        self.used.add(f"{stem}{suffix}（{n}）")
        return f"{stem}{suffix}（{n}）"


def _generated_name(rng: random.Random, namer: _Namer, cluster: Cluster, category: str, street: str) -> str:
    area = rng.choice(cluster.areas)
    parts = names.OFF_STREET_PARTS
    if category == "road":
        return namer.take(street, "道路泊位", names.ON_STREET_PARTS)
    if category == "mall":
        stem = area + rng.choice(names.MALL_TAILS)
    elif category == "office":
        stem = area + rng.choice(names.OFFICE_HEADS) + rng.choice(names.OFFICE_TAILS)
    elif category == "residential":
        estate = rng.choice(names.ESTATE_HEADS) + rng.choice(names.ESTATE_TAILS)
        stem = estate if rng.random() < 0.6 else area + estate
    elif category == "scenic":
        stem = area + rng.choice(names.SCENIC_TAILS)
    elif category == "transport":
        # Park-and-ride sits at metro stations outside the core; elsewhere a bus or coach station.
        if cluster.stations and cluster.zone != "core" and rng.random() < 0.7:
            stem = f"地铁{rng.choice(cluster.stations)}站P+R"
        else:
            stem = area + rng.choice(names.TRANSPORT_TAILS)
    else:  # public
        stem = (area if rng.random() < 0.5 else street) + rng.choice(names.PUBLIC_TAILS)
        return namer.take(stem, "", parts)
    return namer.take(stem, "停车场", parts)


def _occupied(rng: random.Random, kind: str, category: str, zone: str, total: int) -> int:
    share = target_occupancy(profile_for(kind, category), DEMO_CLOCK)
    if kind == "on_street":
        share += _ROAD_ZONE_SHIFT[zone]
    share = min(1.0, max(0.0, share + rng.gauss(0.0, 0.12)))
    return round(total * share)


def _road_berths(rng: random.Random, *, lot_code: str, total: int, occupied: int, compliance: str, zone: str,
                 sensor_seq: list[int]) -> tuple[tuple[BerthPlan, ...], int, int, int]:
    """An on-street lot's berths: mostly standard, an accessible one, an EV pair in the centre; sensors
    only where the lot reports per berth. Returns (berths, ev, accessible, free)."""
    accessible = 1 if total >= 12 and rng.random() < 0.8 else 0
    ev = rng.choice((1, 2)) if zone != "outer" and rng.random() < 0.25 else 0
    sides = rng.choice((("东侧", "西侧"), ("南侧", "北侧")))  # which way the street runs
    prefix = _SENSOR_PREFIX.get(compliance)
    out_of_service = {rng.randrange(total)} if rng.random() < 0.05 else set()
    in_service = [i for i in range(total) if i not in out_of_service]
    taken = set(rng.sample(in_service, min(occupied, len(in_service))))
    berths = []
    for i in range(total):
        kind = "accessible" if i < accessible else "ev" if i >= total - ev else "standard"
        sensor_id = ""
        if prefix:
            sensor_seq[0] += 1
            sensor_id = f"{prefix}{lot_code[:2]}{sensor_seq[0]:07d}"
        if i in out_of_service:
            state = "out_of_service"
        elif not prefix:
            state = "unknown"  # counted at the kerb by the attendant's handset, not per berth
        else:
            state = "occupied" if i in taken else "vacant"
        berths.append(BerthPlan(code=f"{i + 1:03d}", kind=kind, floor=sides[0] if i < total / 2 else sides[1],
                                sensor_id=sensor_id, state=state))
    free = len(in_service) - len(taken)
    return tuple(berths), ev, accessible, free


def plan_city(*, lots: int, seed: int) -> list[LotPlan]:
    """``lots`` lots spread over Wuxi's built-up areas by where people park; every region gets at
    least one when ``lots`` allows, and each cluster's real landmarks (hospitals first) come first."""
    if lots < 1:
        raise ValueError("lots must be at least 1")
    rng = random.Random(seed)
    namer = _Namer()
    for landmark in LANDMARKS:
        namer.used.add(landmark.name)
    counters: dict[tuple[str, str], int] = {}
    sensor_seq = [0]
    plans: list[LotPlan] = []

    region_codes = list(REGIONS)
    region_quota = dict(zip(region_codes, _apportion(lots, [REGIONS[c].weight for c in region_codes], 1),
                            strict=True))
    for region_code in region_codes:
        clusters = [c for c in CLUSTERS if c.region == region_code]
        for cluster, quota in zip(clusters, _apportion(region_quota[region_code], [c.weight for c in clusters]),
                                  strict=True):
            landmarks = [lm for lm in LANDMARKS if lm.cluster == cluster.key][:quota]
            for i in range(quota):
                plans.append(_plan_lot(rng, namer, cluster, landmarks[i] if i < len(landmarks) else None,
                                       counters, sensor_seq))
    return plans


def _plan_lot(rng: random.Random, namer: _Namer, cluster: Cluster, landmark: Landmark | None,
              counters: dict[tuple[str, str], int], sensor_seq: list[int]) -> LotPlan:
    meta = REGIONS[cluster.region]
    if landmark is not None:
        category, name, street, road_class = landmark.category, landmark.name, landmark.street, ""
        lat, lon = landmark.lat, landmark.lon
    else:
        category = _weighted(rng, list(_CATEGORY_WEIGHTS[cluster.zone].items()))
        street, road_class = rng.choice(cluster.streets)
        name = _generated_name(rng, namer, cluster, category, street)
        lat, lon = _point(rng, cluster)
    kind = "on_street" if category == "road" else "off_street"
    series = "R" if kind == "on_street" else ""
    counters[(meta.prefix, series)] = n = counters.get((meta.prefix, series), 0) + 1
    code = f"{meta.prefix}-R-{n:04d}" if series else f"{meta.prefix}-{n:04d}"
    operator = operator_for(kind=kind, category=category, zone=cluster.zone, region=cluster.region, rng=rng)

    if kind == "on_street":
        total = rng.randint(*_ROAD_BERTHS[cluster.zone])
        compliance = _weighted(rng, _COMPLIANCE_ON_STREET)
        occupied = _occupied(rng, kind, category, cluster.zone, total)
        berths, ev, accessible, free = _road_berths(
            rng, lot_code=code, total=total, occupied=occupied, compliance=compliance, zone=cluster.zone,
            sensor_seq=sensor_seq)
        first = rng.randint(1, 300)
        return LotPlan(
            code=code, name=name, address=f"{meta.address}{street}{first}号至{first + 2 * total}号路段",
            region=cluster.region, operator=operator, kind=kind, category=category, zone_class=cluster.zone,
            road_class=road_class, lat=lat, lon=lon, total_berths=total, ev_berths=ev, accessible_berths=accessible,
            reservable_berths=0, free_berths=free, opening_hours=_OPENING_HOURS["road"],
            allow_pay_later=rng.random() < 0.85, filing_status="filed", compliance_level=compliance, status="open",
            berths=berths)

    total = landmark.total_berths if landmark is not None else rng.randint(*_BERTHS[category])
    ev_share = (0.05, 0.20) if category == "residential" else (0.04, 0.15)
    ev = round(total * rng.uniform(*ev_share))
    accessible = max(1, round(total * rng.uniform(0.01, 0.02)))
    reservable = 0
    if category == "hospital":  # appointment parking at the pilot hospitals
        reservable = round(total * rng.uniform(0.08, 0.15))
    elif category == "residential" and rng.random() < 0.25:  # off-peak sharing of estate berths
        reservable = round(total * rng.uniform(0.05, 0.12))
    elif category == "mall" and rng.random() < 0.15:  # bookable EV charging berths
        reservable = min(ev, round(total * rng.uniform(0.02, 0.05)))
    if category == "hospital":
        compliance, filing = "advanced", "filed"
    else:
        compliance, filing = _weighted(rng, _COMPLIANCE_OFF_STREET), _weighted(rng, _FILING)
    closed = landmark is None and rng.random() < 0.01  # under renovation
    free = total if closed else total - _occupied(rng, kind, category, cluster.zone, total)
    number = landmark.number if landmark is not None else rng.randint(1, 399)
    pay_later = {"public": 0.25, "hospital": 0.0}.get(category, 0.1)
    return LotPlan(
        code=code, name=name, address=f"{meta.address}{street}{number}号", region=cluster.region,
        operator=operator, kind=kind, category=category, zone_class="", road_class="", lat=lat, lon=lon,
        total_berths=total, ev_berths=ev, accessible_berths=accessible, reservable_berths=reservable,
        free_berths=free, opening_hours=_OPENING_HOURS.get(category, "00:00-24:00"),
        allow_pay_later=rng.random() < pay_later, filing_status=filing, compliance_level=compliance,
        status="closed" if closed else "open", berths=())
