"""Reading one ingest EVENT (SPEC §3.2) into a checked value, without the database.

What needs the database (is the lot one the key may report for, does the berth exist) is checked
by ``services.events_record``; everything else about an event is decided here, so a bad event is
refused with a precise code before anything is stored.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common import messages, plates

from .errors import ClockSkew, EventRejected, InvalidNumber, InvalidTime
from .models import EventType, PlateColor, VehicleClass

EVENT_ID_MAX = 64
TICKET_ID_MAX = 64
CODE_MAX = 32
GATE_MAX = 64
IMAGE_REF_MAX = 255
# How old an event may be when it arrives. A lot system that lost its link buffers events and sends
# them when it is back; a month covers any real outage. Anything older is a wrong clock or a wrong
# field, and would move counts and price stays on a guess (an entry dated 1990 billed 140 million
# fen), so it is refused as ``invalid_time``. Not a setting: it is part of the contract we document.
INGEST_MAX_AGE = timedelta(days=30)

# Control characters (C0, DEL, C1) and lone surrogates: no field of an event has a use for them,
# PostgreSQL cannot store NUL in text or JSONB nor a lone surrogate at all, and a response cannot
# encode a lone surrogate back.
_BAD_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# An event is a flat object; a vendor's extra fields may nest a little. Deeper is refused, so that
# storing the payload never runs into the JSON encoder's recursion limit.
NESTING_MAX = 8

SESSION_TYPES = frozenset({EventType.ENTRY, EventType.EXIT})
BERTH_TYPES = frozenset({EventType.BERTH_OCCUPIED, EventType.BERTH_VACANT})
NEW_ENERGY_COLORS = frozenset({PlateColor.GREEN, PlateColor.YELLOW_GREEN})
# ``Choices.values`` builds a new list on every read; parse_event checks each event against these.
_TYPES = frozenset(EventType.values)
_PLATE_COLORS = frozenset(PlateColor.values)
_VEHICLE_CLASSES = frozenset(VehicleClass.values)


class UnreadableNumber:
    """A JSON number Python cannot hold: an integer of more digits than ``int()`` reads (the batch
    parser puts this in its place, so that only its event is refused)."""

    __slots__ = ("digits",)

    def __init__(self, literal: str):
        self.digits = len(literal)


def _unstorable(value: object) -> bool:
    """A number no database column or JSON document can hold: ``1e999`` and ``-1e999`` read as
    infinities (PostgreSQL's jsonb refuses them, and so does every JSON encoder that keeps to the
    standard), NaN, or an integer too long to read."""
    return (type(value) is float and not math.isfinite(value)) or type(value) is UnreadableNumber


def _one_of(value: object, choices: frozenset[str]) -> bool:
    return isinstance(value, str) and value in choices  # a list or dict sent as the value is not hashable


@dataclass
class Event:
    """A well-formed event. ``lot`` and ``berth`` are filled in once the database has been asked."""

    index: int
    event_id: str
    type: str
    lot_code: str
    occurred_at: datetime
    payload: dict[str, Any]
    plate: str | None = None
    plate_new_energy: bool = False
    plate_color: str = ""
    ticket_id: str = ""
    vehicle_class: str | None = None  # None: not sent (an exit then keeps the entry's class)
    berth_code: str = ""
    free_berths: int | None = None
    total_berths: int | None = None
    lot: Any = None
    berth: Any = None

    @property
    def new_energy(self) -> bool:
        """SPEC §2: the plate's form decides; a green or yellow-green plate sent without a readable
        form (ticket only) still counts."""
        return self.plate_new_energy or self.plate_color in NEW_ENERGY_COLORS

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        return vehicle_keys(self.plate, self.ticket_id)


def vehicle_keys(plate: str | None, ticket_id: str) -> tuple[tuple[str, str], ...]:
    """How a vehicle's session is found: by plate first, then by the ticket it took at the gate."""
    found = []
    if plate:
        found.append(("p", plate))
    if ticket_id:
        found.append(("t", ticket_id))
    return tuple(found)


def event_id_of(raw: object) -> str | None:
    """The event_id to echo in a RESULT, when the event has a usable one."""
    if isinstance(raw, dict):
        value = raw.get("event_id")
        if isinstance(value, str) and 0 < len(value) <= EVENT_ID_MAX and not _BAD_CHARACTERS.search(value):
            return value
    return None


def _invalid(field_name: str, message: str) -> EventRejected:
    return EventRejected(message, field=field_name)


def _printable_name(name: str) -> str:
    """A field name fit to be echoed in an error (its control characters escaped)."""
    return _BAD_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), name)


def check_characters(raw: dict) -> None:
    """Refuse a control character or lone surrogate in any string of an event, names included, and
    nesting deeper than ``NESTING_MAX`` (``invalid_event`` naming the field), and a number that
    cannot be stored (``invalid_number`` naming the field). Checked before any field is read: the
    event is stored whole."""
    if _flat_and_clean(raw):
        return  # the common event: nothing to name, so the walk below is not needed
    pending: deque[tuple[object, str, int]] = deque([(raw, "", 0)])
    while pending:
        value, path, depth = pending.popleft()  # in document order, so the first bad field is named
        if isinstance(value, str):
            if _BAD_CHARACTERS.search(value):
                raise _invalid(path, _("%(field)s 含有控制字符") % {"field": path})
            continue
        if _unstorable(value):
            raise InvalidNumber(_("%(field)s 的数值超出可表示的范围") % {"field": path}, field=path)
        if not isinstance(value, dict | list):
            continue
        if depth >= NESTING_MAX:
            raise _invalid(path, _("%(field)s 嵌套超过 %(max)d 层") % {"field": path, "max": NESTING_MAX})
        if isinstance(value, list):
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
            continue
        for key, item in value.items():
            name = f"{path}.{_printable_name(key)}" if path else _printable_name(key)
            if _BAD_CHARACTERS.search(key):
                raise _invalid(name, _("字段名 %(field)s 含有控制字符") % {"field": name})
            pending.append((item, name, depth + 1))


def _flat_and_clean(raw: dict) -> bool:
    """No nested value, no number that cannot be stored, and no control character in any name or
    string: one search over them all."""
    texts = list(raw)
    for value in raw.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict | list) or _unstorable(value):
            return False
    return not _BAD_CHARACTERS.search("".join(texts))


def _string(raw: dict, name: str, *, max_length: int, required: bool = False) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise _invalid(name, messages.for_field(name, messages.REQUIRED))
        return ""
    if not isinstance(value, str):
        raise _invalid(name, messages.for_field(name, messages.STRING))
    if len(value) > max_length:
        raise _invalid(name, messages.for_field(name, messages.rule(messages.TOO_LONG, max=max_length)))
    return value


def _count(raw: dict, name: str, *, required: bool) -> int | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise _invalid(name, messages.for_field(name, messages.REQUIRED))
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(name, messages.for_field(name, messages.integer_rule(0)))
    return value


def parse_time(value: object, *, name: str = "occurred_at") -> datetime:
    """An ISO 8601 time with an offset (SPEC §1); a time without one is refused, and so is one
    that has no UTC equivalent (``0001-01-01T00:00+08:00``: the database stores UTC)."""
    if not isinstance(value, str) or not value:
        raise InvalidTime(messages.for_field(name, messages.TIME), field=name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTime(messages.for_field(name, messages.TIME), field=name)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidTime(messages.for_field(name, messages.TIME_WITH_OFFSET), field=name)
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidTime(_("%(field)s 超出可表示的时间范围") % {"field": name}, field=name)
    return parsed


def parse_event(raw: object, *, index: int, now: datetime, max_future_s: int) -> Event:
    """Check one event's shape and values; raise ``EventRejected`` with a stable code."""
    if not isinstance(raw, dict):
        raise _invalid("", _("事件应为 JSON 对象"))
    check_characters(raw)
    event_id = _string(raw, "event_id", max_length=EVENT_ID_MAX, required=True)
    kind = raw.get("type")
    if not _one_of(kind, _TYPES):
        raise _invalid("type", messages.for_field("type", messages.one_of_rule(EventType.values)))
    lot_code = _string(raw, "lot_code", max_length=CODE_MAX, required=True).strip().upper()  # codes are [A-Z0-9-]
    occurred_at = parse_time(raw.get("occurred_at"))
    if occurred_at - now > timedelta(seconds=max_future_s):
        raise ClockSkew(
            _("occurred_at 比平台时间晚 %(seconds)d 秒以上，请校准设备时钟") % {"seconds": max_future_s},
            field="occurred_at", details={"server_time": timezone.localtime(now).isoformat()},
        )
    if now - occurred_at > INGEST_MAX_AGE:
        raise InvalidTime(
            _("occurred_at 早于平台时间 %(days)d 天以上，不再接收") % {"days": INGEST_MAX_AGE.days},
            field="occurred_at", details={"max_age_days": INGEST_MAX_AGE.days},
        )
    event = Event(index=index, event_id=event_id, type=kind, lot_code=lot_code, occurred_at=occurred_at,
                  payload=raw)

    if kind in SESSION_TYPES or kind in BERTH_TYPES:
        plate_raw = raw.get("plate")
        if plate_raw is not None:  # "" is a plate that reads as nothing (invalid_plate), not a missing one
            parsed = plates.parse(plate_raw)  # PlateError is an EventRejected-compatible DomainError
            event.plate, event.plate_new_energy = parsed.value, parsed.new_energy
        event.ticket_id = _string(raw, "ticket_id", max_length=TICKET_ID_MAX)
        color = raw.get("plate_color")
        if color not in (None, ""):
            if not _one_of(color, _PLATE_COLORS):
                raise _invalid("plate_color",
                               messages.for_field("plate_color", messages.one_of_rule(PlateColor.values)))
            event.plate_color = color
        event.berth_code = _string(raw, "berth_code", max_length=CODE_MAX, required=kind in BERTH_TYPES)
    if kind in SESSION_TYPES:
        if event.plate is None and not event.ticket_id:
            raise _invalid("plate", _("无车牌时须提供 ticket_id"))
        vehicle_class = raw.get("vehicle_class")
        if vehicle_class not in (None, ""):
            if not _one_of(vehicle_class, _VEHICLE_CLASSES):
                raise _invalid("vehicle_class",
                               messages.for_field("vehicle_class", messages.one_of_rule(VehicleClass.values)))
            event.vehicle_class = vehicle_class
    if kind == EventType.LOT_STATUS:
        event.free_berths = _count(raw, "free_berths", required=True)
        event.total_berths = _count(raw, "total_berths", required=False)
        if event.total_berths is not None and event.free_berths > event.total_berths:
            raise _invalid("free_berths", _("free_berths 不能大于 total_berths"))
    _string(raw, "gate", max_length=GATE_MAX)
    _string(raw, "image_ref", max_length=IMAGE_REF_MAX)
    return event
