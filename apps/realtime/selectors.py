"""Reads of the lots' live state, shared by the publisher and the per-process hub."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from apps.lots.models import ParkingLot

from .models import ChangeMarker

_STATE_FIELDS = ("code", "free_berths", "total_berths", "status", "offline_since", "occupancy_updated_at",
                 "updated_at", "lat", "lon")


def lot_payload(lot: ParkingLot) -> dict:
    """SPEC §4 WebSocket lot fields, plus lat/lon so the hub filters by bbox without a query."""
    updated = lot.updated_at_public
    return {
        "code": lot.code,
        "free_berths": lot.free_berths,
        "total_berths": lot.total_berths,
        "status": lot.public_status,
        # Local time (+08:00), as the REST API renders it.
        "updated_at": timezone.localtime(updated).isoformat() if updated else None,
        "lat": lot.lat,
        "lon": lot.lon,
    }


def lot_states(lot_ids: Iterable[int] | None = None) -> list[dict]:
    """The live state of these lots (all lots when ``lot_ids`` is None), one query."""
    lots = ParkingLot.objects.only(*_STATE_FIELDS).order_by()
    if lot_ids is not None:
        lots = lots.filter(pk__in=list(lot_ids))
    return [lot_payload(lot) for lot in lots]


def latest_marker_id() -> int:
    return ChangeMarker.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def marked_lot_states(after_id: int, *, limit: int = 500) -> tuple[int, list[dict]]:
    """Lots named by change markers newer than ``after_id``: (the newest marker id read, their states)."""
    rows = list(ChangeMarker.objects.filter(pk__gt=after_id).order_by("pk").values_list("pk", "lot_ids")[:limit])
    if not rows:
        return after_id, []
    ids = {lot_id for _, lot_ids in rows for lot_id in lot_ids}
    return rows[-1][0], lot_states(ids)
