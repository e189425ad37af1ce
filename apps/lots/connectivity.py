"""Whether a lot is talking to the platform (SPEC §3.3).

Any accepted ingest request is a heartbeat for the lots its events name: the ingest writes
``heartbeat_fields`` in the same UPDATE that moves the lots' counts, and calls ``lots_back_online``
for those that had been offline. ``lots_mark_offline`` runs periodically (``tasks.watch_connectivity``).

An outage starts at the lot's last request (``last_seen_at``), not at the moment the watcher
noticed the silence ten minutes later: staff asking "how long was it down" mean since it last spoke.
``offline_since`` carries the same instant. A lot that has never reported (``last_seen_at`` empty)
is "not connected" (未接入), not offline, and is left alone.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F

from apps.realtime.publish import publish_lots_after_commit

from .models import LotOutage, ParkingLot


def heartbeat_fields(*, now: datetime) -> dict:
    """The lot columns a heartbeat sets, for the caller's own UPDATE."""
    return {"last_seen_at": now, "offline_since": None}


def lots_back_online(*, lot_ids: Collection[int], now: datetime) -> None:
    """Close the open outage of lots that were offline and have just been heard from.

    The caller has already cleared ``offline_since`` with ``heartbeat_fields`` under its row lock
    and publishes the lots' new status.
    """
    if lot_ids:
        LotOutage.objects.filter(lot_id__in=list(lot_ids), ended_at__isnull=True).update(ended_at=now)


def lots_mark_offline(*, now: datetime) -> list[int]:
    """Mark lots silent for longer than ``LOT_OFFLINE_AFTER_S`` offline and open their outages.

    In bulk: one locking read, one UPDATE, one INSERT. Lots locked by an ingest request right now
    are skipped (they are being heard from), so the watcher never waits for, or deadlocks with, ingest.
    """
    cutoff = now - timedelta(seconds=settings.LOT_OFFLINE_AFTER_S)
    with transaction.atomic():
        silent = list(
            ParkingLot.objects.select_for_update(skip_locked=True)
            .filter(offline_since__isnull=True, last_seen_at__isnull=False, last_seen_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", "last_seen_at")
        )
        if not silent:
            return []
        ids = [pk for pk, _ in silent]
        ParkingLot.objects.filter(pk__in=ids, offline_since__isnull=True).update(offline_since=F("last_seen_at"))
        # The partial unique constraint (one open outage per lot) drops a second open outage.
        LotOutage.objects.bulk_create([LotOutage(lot_id=pk, started_at=seen) for pk, seen in silent],
                                      ignore_conflicts=True)
        publish_lots_after_commit(ids)
    return ids
