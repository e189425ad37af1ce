"""Berth state from sensor readings, with debounce.

Geomagnetic and video sensors flap: a car manoeuvring or a bus passing reads occupied, vacant,
occupied within seconds. The rule that keeps both the map and the counts calm:

- Readings are applied in the order they happened; a reading older than the berth's latest reading
  (``reading_at``) arrived late and is ignored.
- A sensor's change of state is believed only once it has held for ``BERTH_DEBOUNCE_S`` seconds:
  it waits as ``pending_state`` from ``pending_since``. A reading back to the current state within
  that time cancels it (the flap never shows); a later reading of the pending state, or the
  periodic ``berths_settle`` sweep, applies it once it has held long enough, dated when it began.
- The first reading of a berth in ``unknown`` state, and a reading marked ``confirmed`` (an entry or
  exit camera naming the berth), apply at once. A berth staff took out of service ignores sensors.

Only an on-street lot's count follows its berths (an off-street lot's count follows its gates);
callers get the count moves back and apply them with the lot's other moves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, diff, field_values
from apps.common.scope import may_change

from .errors import BerthError, OutOfScope
from .models import Berth

#: seconds a sensor's new state must hold before it is believed (settings.BERTH_DEBOUNCE_S overrides)
BERTH_DEBOUNCE_S = 10

_STATE_FIELDS = ["state", "state_changed_at", "reading_at", "pending_state", "pending_since"]


def debounce_s() -> int:
    return int(getattr(settings, "BERTH_DEBOUNCE_S", BERTH_DEBOUNCE_S))


@dataclass(frozen=True)
class Reading:
    berth: Berth
    state: str  # Berth.State.OCCUPIED or VACANT
    at: datetime
    confirmed: bool = False


@dataclass
class Applied:
    changed: list[Berth]  # berths whose row must be saved
    moves: dict[int, list[tuple[datetime, int]]]  # lot id → (when, change of free berths), counted lots only


def _occupied(state: str) -> int:
    return 1 if state == Berth.State.OCCUPIED else 0


def _set_state(berth: Berth, state: str, at: datetime, applied: Applied, counted_lot_ids: Collection[int]) -> None:
    change = _occupied(berth.state) - _occupied(state)
    berth.state, berth.state_changed_at = state, at
    berth.pending_state, berth.pending_since = "", None
    if change and berth.lot_id in counted_lot_ids:
        applied.moves[berth.lot_id].append((at, change))


def readings_apply(readings: Iterable[Reading], *, counted_lot_ids: Collection[int]) -> Applied:
    """Apply readings to the berth objects given (in memory) and return what to save and count.

    The caller holds the lock on the berths' lots and saves ``changed`` with ``berths_save``.
    """
    applied = Applied(changed=[], moves=defaultdict(list))
    seen: dict[int, Berth] = {}
    hold = timedelta(seconds=debounce_s())
    for reading in sorted(readings, key=lambda r: r.at):
        berth = reading.berth
        if berth.reading_at is not None and reading.at <= berth.reading_at:
            continue  # late: a newer reading of this berth is already applied
        berth.reading_at = reading.at
        seen[berth.pk] = berth
        if berth.state == Berth.State.OUT_OF_SERVICE:
            continue
        if reading.state == berth.state:
            berth.pending_state, berth.pending_since = "", None  # a flap reverted in time
        elif reading.confirmed or berth.state == Berth.State.UNKNOWN:
            _set_state(berth, reading.state, reading.at, applied, counted_lot_ids)
        elif berth.pending_state == reading.state:
            if reading.at - berth.pending_since >= hold:
                _set_state(berth, reading.state, berth.pending_since, applied, counted_lot_ids)
        else:
            berth.pending_state, berth.pending_since = reading.state, reading.at
    applied.changed = list(seen.values())
    return applied


def settle_due(berths: Iterable[Berth], *, now: datetime, counted_lot_ids: Collection[int]) -> Applied:
    """Apply pending states that have held for the debounce time by ``now``."""
    applied = Applied(changed=[], moves=defaultdict(list))
    hold = timedelta(seconds=debounce_s())
    for berth in berths:
        if berth.pending_state and berth.pending_since is not None and now - berth.pending_since >= hold:
            _set_state(berth, berth.pending_state, berth.pending_since, applied, counted_lot_ids)
            applied.changed.append(berth)
    return applied


def pending_due(*, now: datetime):
    """Berths whose pending state is old enough to settle."""
    return Berth.objects.exclude(pending_state="").filter(pending_since__lte=now - timedelta(seconds=debounce_s()))


def berths_save(berths: Collection[Berth]) -> None:
    if berths:
        Berth.objects.bulk_update(list(berths), _STATE_FIELDS)


def berths_settle(*, now: datetime) -> list[int]:
    """The periodic sweep: settle pending berth states that have held long enough, move on-street
    lots' counts, and publish the lots that changed after commit. Returns those lot ids."""
    from apps.lots.models import ParkingLot
    from apps.lots.occupancy import free_berth_counts, lots_write
    from apps.realtime.publish import publish_lots_after_commit

    with transaction.atomic():
        lot_ids = sorted(set(pending_due(now=now).values_list("lot_id", flat=True)))
        if not lot_ids:
            return []
        # The same lock order as ingest (lots by id, then their berths): no deadlock, no lost reading.
        lots = list(ParkingLot.objects.select_for_update().filter(pk__in=lot_ids).order_by("pk").only("pk", "kind"))
        counted = {lot.pk for lot in lots if lot.kind == ParkingLot.Kind.ON_STREET}
        applied = settle_due(pending_due(now=now).filter(lot_id__in=lot_ids), now=now, counted_lot_ids=counted)
        berths_save(applied.changed)
        counts = free_berth_counts(moves=applied.moves, snapshots={})
        lots_write(free_berths=counts, heard_ids=(), now=now)
        publish_lots_after_commit(counts)
    return sorted(counts)


# -- staff edits (the admin) -----------------------------------------------------------------------
#: what staff edit on a berth; the reading and debounce fields belong to the sensors' path above
BERTH_REGISTRY_FIELDS = ("code", "kind", "floor", "sensor_id", "state")


def _staff_change(old_state: str, new_state: str) -> int:
    return _occupied(old_state) - _occupied(new_state)


def _move_lot_count(*, lot, change: int, now: datetime) -> None:
    """An on-street lot's count follows its berths: move it by ``change`` and tell the map."""
    from apps.lots.models import ParkingLot
    from apps.lots.occupancy import free_berth_counts, lots_write
    from apps.realtime.publish import publish_lots_after_commit

    if not change or lot.kind != ParkingLot.Kind.ON_STREET:
        return
    counts = free_berth_counts(moves={lot.pk: [(now, change)]}, snapshots={})
    lots_write(free_berths=counts, heard_ids=(), now=now)
    publish_lots_after_commit(counts)


def _lock_lot(berth: Berth):
    from apps.lots.models import ParkingLot

    # Ingest's lock order: the lot first, then its berths.
    return ParkingLot.objects.select_for_update().only("pk", "kind").get(pk=berth.lot_id)


def _ensure_may_change(actor, berth: Berth) -> None:
    if actor is not None and not may_change(actor, berth):
        raise OutOfScope(_("只能管理本人负责范围内停车场的泊位"), field="lot")


def _full_clean(berth: Berth) -> None:
    try:
        berth.full_clean()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            field, errors = next(iter(exc.message_dict.items()))
        else:
            field, errors = None, exc.messages
        raise BerthError(str(errors[0]), field=None if field == "__all__" else field,
                         details={"fields": getattr(exc, "message_dict", {})}) from exc


@transaction.atomic
def berth_save(*, berth: Berth, actor=None) -> Berth:
    """Staff register a berth or edit its registry entry (code, kind, floor, sensor, in or out of
    service). The lot and the berth are locked in ingest's order and only the fields staff edit are
    written, so a sensor reading applied meanwhile is never overwritten; when the berth's state
    changes, an on-street lot's free count moves with it."""
    _ensure_may_change(actor, berth)
    lot = _lock_lot(berth)
    now = timezone.now()
    if berth.pk is None:
        if berth.state != Berth.State.UNKNOWN:
            berth.state_changed_at = now
        _full_clean(berth)
        berth.save()
        _move_lot_count(lot=lot, change=_staff_change(Berth.State.UNKNOWN, berth.state), now=now)
        audit_record(action="berth.created", actor=actor, obj=berth,
                     changes=diff({}, field_values(berth, ("lot", *BERTH_REGISTRY_FIELDS))))
        return berth
    current = Berth.objects.select_for_update().get(pk=berth.pk)
    if current.lot_id != berth.lot_id:
        raise BerthError(_("泊位不能移到其他停车场；请在该停车场新增泊位"), field="lot")
    before = field_values(current, BERTH_REGISTRY_FIELDS)
    old_state = current.state
    for name in BERTH_REGISTRY_FIELDS:
        setattr(current, name, getattr(berth, name))
    fields = list(BERTH_REGISTRY_FIELDS)
    if current.state != old_state:
        # Staff decide this state: a sensor change still waiting to be believed no longer applies.
        current.state_changed_at = now
        current.pending_state, current.pending_since = "", None
        fields += ["state_changed_at", "pending_state", "pending_since"]
    _full_clean(current)
    current.save(update_fields=fields)
    _move_lot_count(lot=lot, change=_staff_change(old_state, current.state), now=now)
    changes = diff(before, field_values(current, BERTH_REGISTRY_FIELDS))
    if changes:
        audit_record(action="berth.changed", actor=actor, obj=current, changes=changes)
    for name in (*fields, "reading_at"):
        setattr(berth, name, getattr(current, name))
    return current


@transaction.atomic
def berth_delete(*, berth: Berth, actor=None) -> None:
    """Staff remove a berth from the registry (the lot's registered total is theirs to change)."""
    _ensure_may_change(actor, berth)
    _lock_lot(berth)
    current = Berth.objects.select_for_update().filter(pk=berth.pk).first()
    if current is None:
        return
    audit_record(action="berth.deleted", actor=actor, obj=current,
                 changes={name: [value, None] for name, value in
                          field_values(current, ("lot", *BERTH_REGISTRY_FIELDS)).items()})
    current.delete()
