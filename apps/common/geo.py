"""Coordinates: WGS-84 ⇄ GCJ-02, great-circle distance and Wuxi's bounding box (SPEC §1, §4).

The platform stores WGS-84 (SPEC §1); Chinese map SDKs and many lot systems speak GCJ-02, so
inputs saying ``"coord_system": "gcj02"`` are converted here. Pure code: no Django, no GIS
libraries. Every function takes and returns ``(lat, lon)`` in that order, except a bbox, which
follows SPEC §4's ``(minLon, minLat, maxLon, maxLat)``.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

__all__ = [
    "EARTH_RADIUS_M",
    "WUXI_BOUNDS",
    "BBox",
    "bbox_contains",
    "distance_m",
    "gcj02_to_wgs84",
    "in_china",
    "in_wuxi",
    "to_wgs84",
    "wgs84_to_gcj02",
]

EARTH_RADIUS_M: Final = 6_371_008.8  # IUGG mean radius

# GCJ-02 is defined on the Krasovsky 1940 ellipsoid.
_A: Final = 6378245.0
_EE: Final = 0.00669342162296594323

# The inverse stops once the forward transform of its answer is this close to the input
# (1e-9° is about 0.1 mm; SPEC's promise is 0.5 m). The offset field is smooth and small, so
# the fixed-point iteration gains about five digits a step; the cap is never reached in China.
_INVERSE_TOLERANCE_DEG: Final = 1e-9
_INVERSE_MAX_ITERATIONS: Final = 30


class BBox(NamedTuple):
    """A lat/lon box in SPEC §4's order: ``(minLon, minLat, maxLon, maxLat)``, edges included."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


# Wuxi's administrative area (梁溪, 锡山, 惠山, 滨湖, 新吴, 江阴, 宜兴) spans 31°07′–32°02′ N and
# 119°31′–120°36′ E; the box adds a little margin. It is a box, not the boundary: it also
# covers parts of Changzhou, Suzhou and Lake Tai, which is fine for "is this plausibly Wuxi".
WUXI_BOUNDS: Final = BBox(min_lon=119.50, min_lat=31.07, max_lon=120.65, max_lat=32.05)


def _check(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"coordinates must be finite numbers, got ({lat!r}, {lon!r})")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"coordinates out of range: lat {lat!r}, lon {lon!r}")


def in_china(lat: float, lon: float) -> bool:
    """The rectangle inside which GCJ-02 applies an offset (the one every implementation uses)."""
    return 0.8293 <= lat <= 55.8271 and 72.004 <= lon <= 137.8347


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _offset(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84 at a WGS-84 point, in degrees (dlat, dlon)."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """The exact forward GCJ-02 transform; points outside China come back unchanged."""
    _check(lat, lon)
    if not in_china(lat, lon):
        return lat, lon
    dlat, dlon = _offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 transform is ``(lat, lon)``, to well under a millimetre.

    GCJ-02 has no closed-form inverse; iterate w ← w + (g − forward(w)) from w = g. Points
    outside China come back unchanged, as the forward transform leaves them.
    """
    _check(lat, lon)
    if not in_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_INVERSE_MAX_ITERATIONS):
        f_lat, f_lon = wgs84_to_gcj02(w_lat, w_lon)
        err_lat, err_lon = lat - f_lat, lon - f_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
        w_lat, w_lon = w_lat + err_lat, w_lon + err_lon
    return w_lat, w_lon


def to_wgs84(lat: float, lon: float, coord_system: str | None = "wgs84") -> tuple[float, float]:
    """An input point in WGS-84, given the ``coord_system`` it was sent in (SPEC §1).

    ``None`` or ``"wgs84"`` means it already is; ``"gcj02"`` is converted; anything else is a
    ``ValueError``. Case-insensitive.
    """
    system = (coord_system or "wgs84").strip().lower()
    if system == "wgs84":
        _check(lat, lon)
        return lat, lon
    if system == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    raise ValueError(f"unknown coord_system {coord_system!r}; expected 'wgs84' or 'gcj02'")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine on a sphere of radius 6,371,008.8 m)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2.0) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2.0) ** 2
    h = min(1.0, max(0.0, h))  # rounding can push it a hair outside [0, 1]
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bbox_contains(bbox: tuple[float, float, float, float], lat: float, lon: float) -> bool:
    """Whether (lat, lon) lies in ``bbox`` = ``(minLon, minLat, maxLon, maxLat)``, edges included.

    A box with ``minLon > maxLon`` crosses the antimeridian. A box with ``minLat > maxLat`` is
    malformed and raises ``ValueError``.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lat > max_lat:
        raise ValueError(f"bbox minLat {min_lat!r} is greater than maxLat {max_lat!r}")
    if not min_lat <= lat <= max_lat:
        return False
    if min_lon <= max_lon:
        return min_lon <= lon <= max_lon
    return lon >= min_lon or lon <= max_lon


def in_wuxi(lat: float, lon: float) -> bool:
    """Whether a WGS-84 point lies in ``WUXI_BOUNDS`` (a box around the city, not its boundary)."""
    return bbox_contains(WUXI_BOUNDS, lat, lon)
