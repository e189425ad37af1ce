"""Moving lots' free-berth counts (SPEC §3.3) in one UPDATE for every lot a batch touched.

The rule: a lot's count is its latest ``lot_status`` snapshot, moved by the entries and exits (and,
on street, berth changes) that happened after it; never below 0 nor above the lot's registered
``total_berths``. A snapshot that arrives after a newer one was applied changes nothing; a move that
happened before the latest snapshot is already in the lot's own count and is not applied again.
A snapshot's ``total_berths`` is checked (free ≤ total) but does not overwrite the registry's total,
which staff maintain from the lot's filing; a snapshot above the registered total is clamped to it.

Counts move by expressions evaluated by the database (``free_berths + delta``, clamped), under the
row lock the caller holds, so concurrent batches never overwrite each other's moves.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import Case, F, Max, Value, When
from django.db.models.functions import Greatest, Least

from apps.lots.connectivity import heartbeat_fields
from apps.lots.models import ParkingLot

from .models import EventType, IngestEvent

Moves = Mapping[int, Sequence[tuple[datetime, int]]]  # lot id → (when, change of free berths)


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    free_berths: int


def latest_snapshot_times(lot_ids: Collection[int]) -> dict[int, datetime]:
    """The time of the newest stored ``lot_status`` event of each lot (one query)."""
    if not lot_ids:
        return {}
    rows = (IngestEvent.objects.filter(lot_id__in=list(lot_ids), type=EventType.LOT_STATUS)
            .values("lot_id").annotate(latest=Max("occurred_at")).values_list("lot_id", "latest"))
    return dict(rows)


def _clamped(expression) -> models.Expression:
    integer = models.IntegerField()
    return Greatest(Least(expression, F("total_berths"), output_field=integer), Value(0), output_field=integer)


def free_berth_expressions(*, moves: Moves, snapshots: Mapping[int, Snapshot]) -> dict[int, models.Expression]:
    """For each lot whose count changes, the SQL expression of its new count.

    ``snapshots`` are the newest snapshot per lot among events just stored; they must already be in
    the ingest log, so the stored newest time tells whether this one is still the newest.
    """
    lot_ids = {lot_id for lot_id, changes in moves.items() if changes} | set(snapshots)
    latest = latest_snapshot_times(lot_ids)
    expressions = {}
    for lot_id in sorted(lot_ids):
        since = latest.get(lot_id)
        delta = sum(change for at, change in moves.get(lot_id, ()) if since is None or at > since)
        snapshot = snapshots.get(lot_id)
        if snapshot is not None and since is not None and snapshot.at >= since:
            expressions[lot_id] = _clamped(Value(snapshot.free_berths + delta))
        elif delta:
            expressions[lot_id] = _clamped(F("free_berths") + Value(delta))
    return expressions


def _for_some(ids: list[int], name: str, value) -> Case:
    """``value`` for the rows in ``ids``, the column unchanged for the others."""
    field = ParkingLot._meta.get_field(name)
    return Case(When(pk__in=ids, then=Value(value, output_field=field)), default=F(name), output_field=field)


def lots_write(*, free_berths: Mapping[int, models.Expression], heard_ids: Collection[int], now: datetime) -> None:
    """One UPDATE: new counts (and ``occupancy_updated_at``) for the lots in ``free_berths``, a
    heartbeat for the lots in ``heard_ids``."""
    heard = set(heard_ids)
    ids = sorted(heard | set(free_berths))
    if not ids:
        return
    values: dict = {}
    if free_berths:
        changed = sorted(free_berths)
        if len(ids) == 1:
            values["free_berths"] = free_berths[ids[0]]
            values["occupancy_updated_at"] = now
        else:
            values["free_berths"] = Case(*(When(pk=pk, then=free_berths[pk]) for pk in changed),
                                         default=F("free_berths"), output_field=models.IntegerField())
            values["occupancy_updated_at"] = _for_some(changed, "occupancy_updated_at", now)
    for name, value in (heartbeat_fields(now=now) if heard else {}).items():
        values[name] = value if heard.issuperset(ids) else _for_some(sorted(heard), name, value)
    ParkingLot.objects.filter(pk__in=ids).update(**values)
