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

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, models, router
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest, Least

from apps.common.statements import Statement

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


@dataclass(frozen=True)
class Count:
    """A lot's new free count: ``base`` (a snapshot's count; None: the count the row holds) moved
    by ``delta``, then clamped to [0, total_berths] by the database."""

    base: int | None
    delta: int


def free_berth_counts(*, moves: Moves, snapshots: Mapping[int, Snapshot],
                      since: SnapshotTimes | None = None) -> dict[int, Count]:
    """For each lot whose count changes, its new count.

    ``snapshots`` are the newest snapshot per lot among events just stored; ``since`` the lots'
    ``snapshot_at`` as read under the caller's row lock (read here for lots it does not name).
    """
    lot_ids = {lot_id for lot_id, changes in moves.items() if changes} | set(snapshots)
    since = dict(since or {})
    since.update(snapshot_times(lot_ids - since.keys()))
    applied = newer_snapshots(snapshots, since)
    counts = {}
    for lot_id in sorted(lot_ids):
        snapshot = applied.get(lot_id)
        base = snapshot.at if snapshot is not None else since.get(lot_id)
        delta = sum(change for at, change in moves.get(lot_id, ()) if base is None or at > base)
        if snapshot is not None:
            counts[lot_id] = Count(snapshot.free_berths, delta)
        elif delta:
            counts[lot_id] = Count(None, delta)
    return counts


def _clamped(expression) -> models.Expression:
    integer = models.IntegerField()
    return Greatest(Least(expression, F("total_berths"), output_field=integer), Value(0), output_field=integer)


def _expression(count: Count) -> models.Expression:
    if count.base is not None:
        return _clamped(Value(count.base + count.delta))
    return _clamped(F("free_berths") + Value(count.delta))


def _for_some(ids: list[int], name: str, value) -> Case:
    """``value`` for the rows in ``ids``, the column unchanged for the others."""
    field = ParkingLot._meta.get_field(name)
    return Case(When(pk__in=ids, then=Value(value, output_field=field)), default=F(name), output_field=field)


def lots_write(*, free_berths: Mapping[int, Count], heard_ids: Collection[int], now: datetime,
               snapshot_at: Mapping[int, datetime] | None = None) -> None:
    """One UPDATE: new counts (and ``occupancy_updated_at``) for the lots in ``free_berths``, the time
    of the snapshot a lot's new count stands on for the lots in ``snapshot_at``, a heartbeat for the
    lots in ``heard_ids``. The caller holds the lots' row locks (or is about to take them here)."""
    heard = set(heard_ids)
    snapshot_at = snapshot_at or {}
    ids = sorted(heard | set(free_berths) | set(snapshot_at))
    if not ids:
        return
    connection = connections[router.db_for_write(ParkingLot)]
    if connection.vendor == "postgresql":
        _lots_write_flat(connection, ids, free_berths=free_berths, heard=heard, now=now, snapshot_at=snapshot_at)
        return
    values: dict = {}
    if free_berths:
        changed = sorted(free_berths)
        if len(ids) == 1:
            values["free_berths"] = _expression(free_berths[ids[0]])
            values["occupancy_updated_at"] = now
        else:
            values["free_berths"] = Case(*(When(pk=pk, then=_expression(free_berths[pk])) for pk in changed),
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


def _lots_write_flat(connection, ids: list[int], *, free_berths: Mapping[int, Count], heard: set[int],
                     now: datetime, snapshot_at: Mapping[int, datetime]) -> None:
    """PostgreSQL: the same UPDATE as one flat statement over ``jsonb_to_recordset``. Its text is the
    same for any number of lots and its rows are one JSON parameter, so a batch spanning a hundred
    lots spends no Python time building a CASE per lot per column while it holds their locks."""
    meta = ParkingLot._meta
    quote = connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column) for name in (
        "free_berths", "total_berths", "occupancy_updated_at", "snapshot_at")}
    rows = []
    for pk in ids:
        count = free_berths.get(pk)
        at = snapshot_at.get(pk)
        rows.append({"id": pk, "counted": count is not None, "base": count.base if count else None,
                     "delta": count.delta if count else 0, "snapshot_at": at.isoformat() if at else None,
                     "heard": pk in heard})
    table = quote(meta.db_table)
    assignments = [
        f"{column['free_berths']} = CASE WHEN v.counted THEN GREATEST(LEAST("
        f"COALESCE(v.base, l.{column['free_berths']}) + v.delta, l.{column['total_berths']}), 0) "
        f"ELSE l.{column['free_berths']} END",
        f"{column['occupancy_updated_at']} = CASE WHEN v.counted THEN %s ELSE l.{column['occupancy_updated_at']} END",
        f"{column['snapshot_at']} = COALESCE(v.snapshot_at, l.{column['snapshot_at']})",
    ]
    params: list = [now]
    for name, value in heartbeat_fields(now=now).items():
        col = quote(meta.get_field(name).column)
        assignments.append(f"{col} = CASE WHEN v.heard THEN %s ELSE l.{col} END")
        params.append(value)
    sql = (f"UPDATE {table} AS l SET {', '.join(assignments)} "  # noqa: S608
           f"FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, counted boolean, base integer, delta integer, "
           f"snapshot_at timestamptz, heard boolean) WHERE l.{quote(meta.pk.column)} = v.id")
    params.append(json.dumps(rows))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def lots_count(*, moves: Moves, snapshots: Mapping[int, Snapshot], heard_ids: Collection[int],
               now: datetime) -> tuple[list[int], list[int]]:
    """A batch's whole write to its lots: lock them (by id), move their counts by ``moves`` and the
    newest of ``snapshots`` under the rule above, decided against each lot's ``snapshot_at`` as the
    lock finds it, and record the heartbeat of ``heard_ids``. Returns the ids of the lots whose
    count changed and of the heard lots that had been offline (their outage is the caller's to
    close). On PostgreSQL it is one statement: the lots are locked for that statement and the commit
    only, however many lots the batch spans."""
    heard = set(heard_ids)
    ids = sorted(heard | {lot_id for lot_id, changes in moves.items() if changes} | set(snapshots))
    if not ids:
        return [], []
    connection = connections[router.db_for_write(ParkingLot)]
    if connection.vendor == "postgresql":
        return _lots_count_flat(connection, ids, moves=moves, snapshots=snapshots, heard=heard, now=now)()
    # Elsewhere (SQLite) the writing transaction has the database to itself: read, decide, write.
    live = {pk: (snapshot_at, offline_since) for pk, snapshot_at, offline_since in
            ParkingLot.objects.filter(pk__in=ids).values_list("pk", "snapshot_at", "offline_since")}
    since = {pk: snapshot_at for pk, (snapshot_at, _offline) in live.items()}
    applied = newer_snapshots(snapshots, since)
    counts = free_berth_counts(moves=moves, snapshots=applied, since=since)
    lots_write(free_berths=counts, heard_ids=heard, now=now,
               snapshot_at={pk: snapshot.at for pk, snapshot in applied.items()})
    return sorted(counts), sorted(pk for pk in heard if pk in live and live[pk][1] is not None)


def lots_count_statement(*, moves: Moves, snapshots: Mapping[int, Snapshot], heard_ids: Collection[int],
                         now: datetime) -> Statement | None:
    """PostgreSQL only: ``lots_count`` as a statement to run later, with others in one round trip
    (``apps.common.statements``); its result is what ``lots_count`` returns. None: no lot to write."""
    heard = set(heard_ids)
    ids = sorted(heard | {lot_id for lot_id, changes in moves.items() if changes} | set(snapshots))
    if not ids:
        return None
    connection = connections[router.db_for_write(ParkingLot)]
    return _lots_count_flat(connection, ids, moves=moves, snapshots=snapshots, heard=heard, now=now)


def _lots_count_flat(connection, ids: list[int], *, moves: Moves, snapshots: Mapping[int, Snapshot],
                     heard: set[int], now: datetime) -> Statement:
    """``lots_count`` on PostgreSQL: the rows travel as one JSON parameter (each lot's moves as a
    nested array), the lock is taken by id in a CTE, and the rule is evaluated against what it
    locked: the snapshot applies if it is at least as new as the lot's; the moves count if they
    happened after the snapshot the count then stands on."""
    meta = ParkingLot._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    col = {name: quote(meta.get_field(name).column) for name in (
        "free_berths", "total_berths", "occupancy_updated_at", "snapshot_at", "offline_since")}
    pk = quote(meta.pk.column)
    rows = []
    for lot_id in ids:
        snapshot = snapshots.get(lot_id)
        rows.append({"id": lot_id, "snap_at": snapshot.at.isoformat() if snapshot else None,
                     "snap_free": snapshot.free_berths if snapshot else None, "heard": lot_id in heard,
                     "moves": [{"at": at.isoformat(), "change": change} for at, change in moves.get(lot_id, ())]})
    heartbeat = heartbeat_fields(now=now)
    beats = []
    params: list = [json.dumps(rows), ids, now]
    for name, value in heartbeat.items():
        column = quote(meta.get_field(name).column)
        beats.append(f"{column} = CASE WHEN d.heard THEN %s ELSE l.{column} END")
        params.append(value)
    sql = (
        f"WITH v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) "  # noqa: S608
        f"AS v(id bigint, snap_at timestamptz, snap_free integer, moves jsonb, heard boolean)), "
        f"old AS (SELECT o.{pk} AS id, o.{col['snapshot_at']} AS snapshot_at, "
        f"o.{col['offline_since']} AS offline_since "
        f"FROM {table} o WHERE o.{pk} = ANY(%s::bigint[]) ORDER BY o.{pk} FOR NO KEY UPDATE), "
        f"a AS (SELECT v.*, old.offline_since AS was_offline, old.snapshot_at AS old_snapshot_at, "
        f"v.snap_at IS NOT NULL AND (old.snapshot_at IS NULL OR v.snap_at >= old.snapshot_at) AS applies "
        f"FROM v JOIN old ON old.id = v.id), "
        f"b AS (SELECT a.*, CASE WHEN a.applies THEN a.snap_at ELSE a.old_snapshot_at END AS base_at FROM a), "
        f"d AS MATERIALIZED (SELECT b.*, (SELECT coalesce(sum(m.change), 0) FROM jsonb_to_recordset(b.moves) "
        f"AS m(at timestamptz, change integer) WHERE b.base_at IS NULL OR m.at > b.base_at) AS delta FROM b) "
        f"UPDATE {table} AS l SET "
        f"{col['free_berths']} = CASE WHEN d.applies THEN GREATEST(LEAST(d.snap_free + d.delta, "
        f"l.{col['total_berths']}), 0) WHEN d.delta <> 0 THEN GREATEST(LEAST(l.{col['free_berths']} + d.delta, "
        f"l.{col['total_berths']}), 0) ELSE l.{col['free_berths']} END, "
        f"{col['occupancy_updated_at']} = CASE WHEN d.applies OR d.delta <> 0 THEN %s "
        f"ELSE l.{col['occupancy_updated_at']} END, "
        f"{col['snapshot_at']} = CASE WHEN d.applies THEN d.snap_at ELSE l.{col['snapshot_at']} END, "
        f"{', '.join(beats)} "
        f"FROM d WHERE l.{pk} = d.id AND l.{pk} = ANY(%s::bigint[]) "
        f"RETURNING l.{pk}, d.applies OR d.delta <> 0, d.heard AND d.was_offline IS NOT NULL")
    params.append(ids)

    def counted(returned: list[tuple] | None, _rowcount: int) -> tuple[list[int], list[int]]:
        return (sorted(lot_id for lot_id, counted, _back in returned or () if counted),
                sorted(lot_id for lot_id, _counted, back in returned or () if back))
    return Statement(sql, params, on_result=counted, using=connection.alias)


def device_heard(*, device_id: int, now: datetime) -> None:
    """Record that a device's request was accepted (``Device.last_seen_at``), never moving it back.

    Every connection of one lot system posts with the same key: an UPDATE of that one device row in
    each batch's transaction would make those batches wait for each other until each commits. So the
    row is written only when no other batch holds it (``SKIP LOCKED``): the one that does is writing
    a time as fresh as this one.
    """
    device_heard_statement(device_id=device_id, now=now)()


def device_heard_statement(*, device_id: int, now: datetime) -> Statement:
    """``device_heard`` as a statement to run later (with others in one round trip on PostgreSQL)."""
    connection = connections[router.db_for_write(Device)]
    meta = Device._meta
    quote = connection.ops.quote_name
    table, pk, seen = quote(meta.db_table), quote(meta.pk.column), quote(meta.get_field("last_seen_at").column)
    # NO KEY: rows that point at the device (events, by foreign key) must not wait for it either.
    # (Elsewhere, SQLite, the writing transaction has the database to itself: there is no row lock.)
    lock = " FOR NO KEY UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (f"UPDATE {table} SET {seen} = %s WHERE {pk} IN (SELECT {pk} FROM {table} WHERE {pk} = %s{lock}) "  # noqa: S608
           f"AND ({seen} IS NULL OR {seen} < %s)")
    return Statement(sql, [at, device_id, at], using=connection.alias)
