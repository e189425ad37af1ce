"""The one place that sends occupancy changes to the channel layer (DESIGN.md, step 4).

Callers hand over lot ids with ``publish_lots_after_commit`` inside their transaction; nothing is
sent if the transaction rolls back, and nothing on the write path waits for the channel layer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

OCCUPANCY_GROUP = "occupancy"


def lot_payload(lot) -> dict:
    """SPEC §4 WebSocket lot fields, plus lat/lon so consumers filter by bbox without a query."""
    updated = lot.occupancy_updated_at or lot.updated_at
    return {
        "code": lot.code,
        "free_berths": lot.free_berths,
        "total_berths": lot.total_berths,
        "status": lot.public_status,
        "updated_at": updated.isoformat() if updated else None,
        "lat": lot.lat,
        "lon": lot.lon,
    }


def publish_lots(lot_ids: Iterable[int]) -> None:
    """Send the current state of these lots to every occupancy subscriber. Never raises."""
    from apps.lots.models import ParkingLot

    ids = sorted(set(lot_ids))
    if not ids:
        return
    try:
        lots = [lot_payload(lot) for lot in ParkingLot.objects.filter(pk__in=ids).only(
            "code", "free_berths", "total_berths", "status", "offline_since", "occupancy_updated_at",
            "updated_at", "lat", "lon")]
        layer = get_channel_layer()
        if layer is not None and lots:
            async_to_sync(layer.group_send)(OCCUPANCY_GROUP, {"type": "occupancy.changed", "lots": lots})
    except Exception:  # a slow or absent channel layer must never break the write path
        logger.exception("occupancy publish failed for %d lots", len(ids))


def publish_lots_after_commit(lot_ids: Iterable[int]) -> None:
    ids = list(lot_ids)
    transaction.on_commit(lambda: publish_lots(ids))
