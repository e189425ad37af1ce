"""The live columns of lot rows (SPEC §3.3): free-berth counts, the snapshot a count stands on, heartbeats.

The registry owns these writes; ingest (the sessions app) and the berth sweep (the berths app)
call them, never the reverse. Every touched lot is written in one UPDATE a batch.

The rule: a lot's count is its latest ``lot_status`` snapshot, moved by the entries and exits (and,
on street, berth changes) that happened after it; never below 0 nor above the lot's registered
``total_berths``. A snapshot that arrives after a newer one was applied changes nothing; a move that
happened before the latest snapshot is already in the lot's own count and is not applied again.
A snapshot's ``total_berths`` is checked (free ≤ total) but does not overwrite the registry's total,
which staff maintain from the lot's filing; a snapshot above the registered total is clamped to it.

Counts move by expressions evaluated by the database (``free_berths + delta``, clamped), under the
row lock the caller holds, so concurrent batches never overwrite each other's moves. The time of
the snapshot a count stands on is the lot's own ``snapshot_at``, written in that same UPDATE, so
deciding what still moves the count costs nothing however long the lot's history grows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest, Least

from .connectivity import heartbeat_fields
from .models import Device, ParkingLot

Moves = Mapping[int, Sequence[tuple[datetime, int]]]  # lot id → (when, change of free berths)
SnapshotTimes = Mapping[int, datetime | None]  # lot id → ParkingLot.snapshot_at


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    free_berths: int


def snapshot_times(lot_ids: Collection[int]) -> dict[int, datetime | None]:
    """``ParkingLot.snapshot_at`` of each lot: one read by primary key, whatever the history."""
    if not lot_ids:
        return {}
    return dict(ParkingLot.objects.filter(pk__in=list(lot_ids)).values_list("pk", "snapshot_at"))


def newer_snapshots(snapshots: Mapping[int, Snapshot], since: SnapshotTimes) -> dict[int, Snapshot]:
    """The snapshots at least as new as the one each lot's count stands on; an older one arrived
    late and changes nothing."""
    return {lot_id: snapshot for lot_id, snapshot in snapshots.items()
            if since.get(lot_id) is None or snapshot.at >= since[lot_id]}


def _clamped(expression) -> models.Expression:
    integer = models.IntegerField()
    return Greatest(Least(expression, F("total_berths"), output_field=integer), Value(0), output_field=integer)


def free_berth_expressions(*, moves: Moves, snapshots: Mapping[int, Snapshot],
                           since: SnapshotTimes | None = None) -> dict[int, models.Expression]:
    """For each lot whose count changes, the SQL expression of its new count.

    ``snapshots`` are the newest snapshot per lot among events just stored; ``since`` the lots'
    ``snapshot_at`` as read under the caller's row lock (read here for lots it does not name).
    """
    lot_ids = {lot_id for lot_id, changes in moves.items() if changes} | set(snapshots)
    since = dict(since or {})
    since.update(snapshot_times(lot_ids - since.keys()))
    applied = newer_snapshots(snapshots, since)
    expressions = {}
    for lot_id in sorted(lot_ids):
        snapshot = applied.get(lot_id)
        base = snapshot.at if snapshot is not None else since.get(lot_id)
        delta = sum(change for at, change in moves.get(lot_id, ()) if base is None or at > base)
        if snapshot is not None:
            expressions[lot_id] = _clamped(Value(snapshot.free_berths + delta))
        elif delta:
            expressions[lot_id] = _clamped(F("free_berths") + Value(delta))
    return expressions


def _for_some(ids: list[int], name: str, value) -> Case:
    """``value`` for the rows in ``ids``, the column unchanged for the others."""
    field = ParkingLot._meta.get_field(name)
    return Case(When(pk__in=ids, then=Value(value, output_field=field)), default=F(name), output_field=field)


def lots_write(*, free_berths: Mapping[int, models.Expression], heard_ids: Collection[int], now: datetime,
               snapshot_at: Mapping[int, datetime] | None = None) -> None:
    """One UPDATE: new counts (and ``occupancy_updated_at``) for the lots in ``free_berths``, the time
    of the snapshot a lot's new count stands on for the lots in ``snapshot_at``, a heartbeat for the
    lots in ``heard_ids``."""
    heard = set(heard_ids)
    snapshot_at = snapshot_at or {}
    ids = sorted(heard | set(free_berths) | set(snapshot_at))
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
    if snapshot_at:
        field = ParkingLot._meta.get_field("snapshot_at")
        values["snapshot_at"] = Case(*(When(pk=pk, then=Value(at, output_field=field))
                                       for pk, at in sorted(snapshot_at.items())),
                                     default=F("snapshot_at"), output_field=field)
    for name, value in (heartbeat_fields(now=now) if heard else {}).items():
        values[name] = value if heard.issuperset(ids) else _for_some(sorted(heard), name, value)
    ParkingLot.objects.filter(pk__in=ids).update(**values)


def device_heard(*, device_id: int, now: datetime) -> None:
    """Record that a device's request was accepted (``Device.last_seen_at``), never moving it back.

    Every connection of one lot system posts with the same key: an UPDATE of that one device row in
    each batch's transaction would make those batches wait for each other until each commits. So the
    row is written only when no other batch holds it (``SKIP LOCKED``): the one that does is writing
    a time as fresh as this one.
    """
    # NO KEY: rows that point at the device (events, by foreign key) must not wait for it either.
    free = Device.objects.filter(pk=device_id).select_for_update(skip_locked=True, no_key=True).values("pk")
    Device.objects.filter(pk__in=free).filter(
        models.Q(last_seen_at__isnull=True) | models.Q(last_seen_at__lt=now)).update(last_seen_at=now)
