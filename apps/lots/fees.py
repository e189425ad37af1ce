"""The fee engine: what a stay costs under a tariff (SPEC §6).

Pure on purpose: no ORM, no clock, no settings. Everything arrives as arguments, times are aware
datetimes, money is an integer number of fen. Tariff windows are Asia/Shanghai local time; the zone
is a keyword argument (data), never read from settings.

How a stay is charged, in one paragraph: time inside a band occurrence, inside the stay and outside
every free window is charging time. It is cut at fixed boundaries (band occurrence ends, ladder step
starts, 24-hour marks from entry, free-window starts, exit) into segments; inside a segment every unit
has the same length and price, so a segment's units are counted at once instead of walked one by one.
Caps are applied in time order. Because a shorter stay's units are a prefix of a longer stay's units
(only the last one is cut at exit, and it costs in full anyway), and the overnight price only ever
lowers a stay until the night ends, a longer stay never costs less (rule 8).

Free windows cut units as rule 3 says: a window cuts the unit running when it starts (that unit still
costs in full) and a new unit starts where it ends. A window that starts or ends inside a unit can so
cost one unit more than no window at all, and rule 2 (as revised) forbids a window to make a stay
dearer: the band charge is the smaller of the charge with the windows cut out and the charge without
any window. Both are priced only when a window meets the stay. Each of the two is non-decreasing in
the exit time (the prefix argument above holds for each), so their minimum is too: rule 8 still holds.
The minimum is taken over "all the windows" against "none", as the rule says, not over every subset:
adding a window to others can still raise a stay's price above what the fewer windows gave, though
never above the price without windows.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

__all__ = [
    "SHANGHAI",
    "FeeError",
    "FeeInputError",
    "TariffError",
    "compute_fee",
    "validate_rules",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")

_US_PER_MINUTE = 60_000_000
_DAY_MINUTES = 1440
_DAY_US = _DAY_MINUTES * _US_PER_MINUTE
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")

_OWN_KEYS = frozenset({"free_minutes", "bands", "daily_cap_fen", "overnight", "new_energy"})
_SAME_AS_KEYS = frozenset({"same_as", "multiplier"})
_BAND_KEYS = frozenset({"start", "end", "ladder", "cap_fen"})
_STEP_KEYS = frozenset({"after_minutes", "unit_minutes", "unit_fen"})
_OVERNIGHT_KEYS = frozenset({"entry_after", "exit_before", "unit_minutes", "unit_fen", "cap_fen"})
_NEW_ENERGY_KEYS = frozenset({"free_minutes", "discount_percent"})


class FeeError(ValueError):
    """Base of the engine's errors. ``field`` is the path of what is wrong, ``problem`` says how."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class TariffError(FeeError):
    """The rule set itself is invalid (SPEC's ``invalid_tariff``); ``field`` is e.g. ``small.bands[1].end``."""


class FeeInputError(FeeError):
    """The stay is invalid (naive time, exit before entry, unknown vehicle class, bad free window)."""


# ---------------------------------------------------------------------------------------------------
# Parsed rules


@dataclass(frozen=True, slots=True)
class _Step:
    after_us: int
    unit_us: int
    fen: int


@dataclass(frozen=True, slots=True)
class _Band:
    start_min: int  # minute of the day the occurrence starts, 0..1439
    end_min: int  # minutes after the start day's 00:00 that it ends: start_min < end_min <= start_min + 1440
    ladder: tuple[_Step, ...]
    afters: tuple[int, ...]
    cap_fen: int | None


@dataclass(frozen=True, slots=True)
class _Overnight:
    after_min: int
    before_min: int
    unit_us: int
    fen: int
    cap_fen: int | None


@dataclass(frozen=True, slots=True)
class _OwnRules:
    free_minutes: int
    bands: tuple[_Band, ...]
    daily_cap_fen: int | None
    overnight: _Overnight | None
    new_energy_free_minutes: int | None
    new_energy_discount_percent: int


@dataclass(frozen=True, slots=True)
class _ClassRef:
    base: str
    multiplier: Fraction


def validate_rules(rules: object) -> None:
    """Raise :class:`TariffError` (a ``ValueError``) naming the first invalid field; return None if valid."""
    _parse_rules(rules)


def _parse_rules(rules: object) -> tuple[dict[str, _OwnRules], dict[str, _ClassRef]]:
    # Every exit prices with one of a few dozen tariffs: parse each distinct rule set once.
    try:
        key = json.dumps(rules, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return _parse_rules_uncached(rules)
    return _parse_rules_cached(key)


@lru_cache(maxsize=512)
def _parse_rules_cached(key: str) -> tuple[dict[str, _OwnRules], dict[str, _ClassRef]]:
    return _parse_rules_uncached(json.loads(key))


def _parse_rules_uncached(rules: object) -> tuple[dict[str, _OwnRules], dict[str, _ClassRef]]:
    if not isinstance(rules, Mapping):
        raise TariffError("", "a tariff must be a JSON object of vehicle classes")
    if not rules:
        raise TariffError("", "a tariff needs at least one vehicle class")
    own: dict[str, _OwnRules] = {}
    refs: dict[str, _ClassRef] = {}
    for name, body in rules.items():
        if not isinstance(name, str) or not name:
            raise TariffError(repr(name), "a vehicle class name must be a non-empty string")
        if not isinstance(body, Mapping):
            raise TariffError(name, "must be an object")
        if "same_as" in body:
            refs[name] = _parse_same_as(name, body)
        else:
            own[name] = _parse_own(name, body)
    for name, ref in refs.items():
        if ref.base in refs:
            raise TariffError(f"{name}.same_as", f"names {ref.base!r}, which is itself a same_as class")
        if ref.base not in own:
            raise TariffError(f"{name}.same_as", f"names {ref.base!r}, which is not a class of this tariff")
    return own, refs


def _parse_same_as(name: str, body: Mapping) -> _ClassRef:
    _reject_unknown(name, body, _SAME_AS_KEYS, "a same_as class takes only same_as and multiplier")
    base = body["same_as"]
    if not isinstance(base, str) or not base:
        raise TariffError(f"{name}.same_as", "must be the name of another class")
    multiplier = Fraction(1)
    if "multiplier" in body:
        raw = body["multiplier"]
        path = f"{name}.multiplier"
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise TariffError(path, "must be a number")
        if isinstance(raw, float) and not math.isfinite(raw):
            raise TariffError(path, "must be a finite number")
        if raw < 0:
            raise TariffError(path, "must not be negative")
        # str() keeps 1.5 as exactly 3/2 rather than the binary float's expansion.
        multiplier = Fraction(raw) if isinstance(raw, int) else Fraction(str(raw))
    return _ClassRef(base=base, multiplier=multiplier)


def _parse_own(name: str, body: Mapping) -> _OwnRules:
    _reject_unknown(name, body, _OWN_KEYS)
    free_minutes = _int(body, "free_minutes", name, default=0, minimum=0)
    if "bands" not in body:
        raise TariffError(f"{name}.bands", "is required (an empty list means always free)")
    raw_bands = body["bands"]
    if not isinstance(raw_bands, list):
        raise TariffError(f"{name}.bands", "must be a list")
    bands = [_parse_band(f"{name}.bands[{i}]", raw) for i, raw in enumerate(raw_bands)]
    _check_overlaps(name, bands)
    daily_cap = _int(body, "daily_cap_fen", name, default=None, minimum=0)
    overnight = None
    if body.get("overnight") is not None:
        overnight = _parse_overnight(f"{name}.overnight", body["overnight"])
    ne_free, ne_discount = None, 0
    if body.get("new_energy") is not None:
        path = f"{name}.new_energy"
        ne = body["new_energy"]
        if not isinstance(ne, Mapping):
            raise TariffError(path, "must be an object")
        _reject_unknown(path, ne, _NEW_ENERGY_KEYS)
        ne_free = _int(ne, "free_minutes", path, default=None, minimum=0)
        ne_discount = _int(ne, "discount_percent", path, default=0, minimum=0, maximum=100)
    # Occurrences are generated in time-of-day order so that units come out in time order.
    return _OwnRules(
        free_minutes=free_minutes,
        bands=tuple(sorted(bands, key=lambda b: b.start_min)),
        daily_cap_fen=daily_cap,
        overnight=overnight,
        new_energy_free_minutes=ne_free,
        new_energy_discount_percent=ne_discount,
    )


def _parse_band(path: str, raw: object) -> _Band:
    if not isinstance(raw, Mapping):
        raise TariffError(path, "must be an object")
    _reject_unknown(path, raw, _BAND_KEYS)
    start = _hhmm(raw, "start", path, allow_24=False)
    end = _hhmm(raw, "end", path, allow_24=True)
    if start == end:
        raise TariffError(f"{path}.end", 'equals start (write "00:00"–"24:00" for all day)')
    end_min = end if end > start else end + _DAY_MINUTES  # end before start wraps past midnight
    ladder_path = f"{path}.ladder"
    raw_ladder = raw.get("ladder")
    if not isinstance(raw_ladder, list) or not raw_ladder:
        raise TariffError(ladder_path, "must be a non-empty list of steps")
    steps: list[_Step] = []
    previous = -1
    for i, raw_step in enumerate(raw_ladder):
        step_path = f"{ladder_path}[{i}]"
        if not isinstance(raw_step, Mapping):
            raise TariffError(step_path, "must be an object")
        _reject_unknown(step_path, raw_step, _STEP_KEYS)
        after = _int(raw_step, "after_minutes", step_path, minimum=0)
        if i == 0 and after != 0:
            raise TariffError(f"{step_path}.after_minutes", "must be 0 (a ladder starts at 0)")
        if i > 0 and after <= previous:
            raise TariffError(f"{step_path}.after_minutes", "must increase")
        if after >= _DAY_MINUTES:
            raise TariffError(f"{step_path}.after_minutes", "must be under 1440 (the ladder restarts every 24 hours)")
        previous = after
        unit = _int(raw_step, "unit_minutes", step_path, minimum=1)
        fen = _int(raw_step, "unit_fen", step_path, minimum=0)
        steps.append(_Step(after_us=after * _US_PER_MINUTE, unit_us=unit * _US_PER_MINUTE, fen=fen))
    cap = _int(raw, "cap_fen", path, default=None, minimum=0)
    return _Band(
        start_min=start,
        end_min=end_min,
        ladder=tuple(steps),
        afters=tuple(s.after_us for s in steps),
        cap_fen=cap,
    )


def _check_overlaps(name: str, bands: list[_Band]) -> None:
    pieces: list[tuple[int, int, int]] = []  # (from, to, band index) within one day, 0..1440
    for i, band in enumerate(bands):
        if band.end_min <= _DAY_MINUTES:
            pieces.append((band.start_min, band.end_min, i))
        else:
            pieces.append((band.start_min, _DAY_MINUTES, i))
            pieces.append((0, band.end_min - _DAY_MINUTES, i))
    pieces.sort()
    for (_, prev_to, prev_i), (cur_from, _, cur_i) in pairwise(pieces):
        if cur_from < prev_to:
            first, second = sorted((prev_i, cur_i))
            raise TariffError(f"{name}.bands[{second}]", f"overlaps {name}.bands[{first}]")


def _parse_overnight(path: str, raw: object) -> _Overnight:
    if not isinstance(raw, Mapping):
        raise TariffError(path, "must be an object")
    _reject_unknown(path, raw, _OVERNIGHT_KEYS)
    after = _hhmm(raw, "entry_after", path, allow_24=False)
    before = _hhmm(raw, "exit_before", path, allow_24=True)
    if after == before:
        raise TariffError(f"{path}.exit_before", "equals entry_after")
    unit = _int(raw, "unit_minutes", path, minimum=1)
    fen = _int(raw, "unit_fen", path, minimum=0)
    cap = _int(raw, "cap_fen", path, default=None, minimum=0)
    return _Overnight(after_min=after, before_min=before, unit_us=unit * _US_PER_MINUTE, fen=fen, cap_fen=cap)


_REQUIRED = object()


def _int(obj: Mapping, key: str, path: str, *, default=_REQUIRED, minimum=None, maximum=None):
    field = f"{path}.{key}"
    if key not in obj or obj[key] is None:
        if default is _REQUIRED:
            raise TariffError(field, "is required")
        return default
    value = obj[key]
    # Money and minutes are whole numbers: 2.5 元 is 250 fen, never 2.5.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TariffError(field, "must be an integer")
    if minimum is not None and value < minimum:
        raise TariffError(field, "must not be negative" if minimum == 0 else f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise TariffError(field, f"must be at most {maximum}")
    return value


def _hhmm(obj: Mapping, key: str, path: str, *, allow_24: bool) -> int:
    field = f"{path}.{key}"
    value = obj.get(key)
    if not isinstance(value, str) or not _HHMM.match(value):
        raise TariffError(field, f'must be a time "HH:MM" (got {value!r})')
    if value == "24:00" and not allow_24:
        raise TariffError(field, '"24:00" is only allowed as an end')
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _reject_unknown(path: str, obj: Mapping, allowed: frozenset[str], hint: str = "") -> None:
    # A misspelt key (say "daily_cap") would otherwise be ignored and citizens overcharged.
    for key in obj:
        if key not in allowed:
            raise TariffError(f"{path}.{key}", hint or "unknown field")


# ---------------------------------------------------------------------------------------------------
# Computing


def compute_fee(
    rules: Mapping,
    *,
    vehicle_class: str,
    entry: datetime,
    exit: datetime,
    new_energy: bool = False,
    free_windows: Iterable = (),
    tz: tzinfo = SHANGHAI,
) -> int:
    """What a stay from ``entry`` to ``exit`` costs, in fen, under SPEC §6 rules 1–8."""
    own, refs = _parse_rules(rules)
    entry_us = _aware_us(entry, "entry")
    exit_us = _aware_us(exit, "exit")
    if exit_us < entry_us:
        raise FeeInputError("exit", "is before entry")
    if not isinstance(new_energy, bool):
        raise FeeInputError("new_energy", "must be true or false")
    if not isinstance(tz, tzinfo):
        raise FeeInputError("tz", "must be a tzinfo")
    windows = _parse_windows(free_windows, entry_us, exit_us)
    if not isinstance(vehicle_class, str):
        raise FeeInputError("vehicle_class", "must be a class name such as 'small'")
    if vehicle_class in own:
        base, multiplier = own[vehicle_class], Fraction(1)
    elif vehicle_class in refs:
        ref = refs[vehicle_class]
        base, multiplier = own[ref.base], ref.multiplier
    else:
        raise FeeInputError("vehicle_class", f"the tariff has no rules for {vehicle_class!r}")

    free_minutes = base.free_minutes
    if new_energy and base.new_energy_free_minutes is not None:
        free_minutes = base.new_energy_free_minutes
    if exit_us - entry_us <= free_minutes * _US_PER_MINUTE:
        return 0

    amount = _band_charge(base, entry_us, exit_us, windows, tz)
    if windows:
        # Rule 2: a free window never makes a stay dearer than the same stay without windows.
        amount = min(amount, _band_charge(base, entry_us, exit_us, (), tz))
    if base.overnight is not None:
        night = _overnight_charge(base.overnight, entry, entry_us, exit_us, tz)
        if night is not None:
            amount = min(amount, night)
    amount = amount * multiplier.numerator // multiplier.denominator
    if new_energy and base.new_energy_discount_percent:
        amount = amount * (100 - base.new_energy_discount_percent) // 100  # rounds down to the fen
    return int(amount)


def _aware_us(value: object, field: str) -> int:
    if not isinstance(value, datetime):
        raise FeeInputError(field, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise FeeInputError(field, "must have a UTC offset (naive times are refused)")
    return (value - _EPOCH) // _ONE_US


def _parse_windows(free_windows: Iterable, entry_us: int, exit_us: int) -> list[tuple[int, int]]:
    if free_windows is None:
        return []
    spans: list[tuple[int, int]] = []
    for i, window in enumerate(free_windows):
        field = f"free_windows[{i}]"
        try:
            start, end = window
        except (TypeError, ValueError):
            raise FeeInputError(field, "must be a (start, end) pair") from None
        start_us, end_us = _aware_us(start, f"{field}[0]"), _aware_us(end, f"{field}[1]")
        if end_us < start_us:
            raise FeeInputError(field, "ends before it starts")
        start_us, end_us = max(start_us, entry_us), min(end_us, exit_us)
        if start_us < end_us:
            spans.append((start_us, end_us))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start_us, end_us in spans:
        if merged and start_us <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end_us))
        else:
            merged.append((start_us, end_us))
    return merged


def _local_us(day: date, minute: int, tz: tzinfo) -> int:
    day = day + timedelta(days=minute // _DAY_MINUTES)
    minute %= _DAY_MINUTES
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
    return (local - _EPOCH) // _ONE_US


def _occurrences(bands: tuple[_Band, ...], entry_us: int, exit_us: int, tz: tzinfo):
    """Band occurrences overlapping the stay, in time order: (band, start_us, end_us)."""
    first = (_EPOCH + timedelta(microseconds=entry_us)).astimezone(tz).date() - timedelta(days=1)
    last = (_EPOCH + timedelta(microseconds=exit_us)).astimezone(tz).date()
    previous_end = None
    day = first
    while day <= last:
        for band in bands:
            start = _local_us(day, band.start_min, tz)
            end = _local_us(day, band.end_min, tz)
            if previous_end is not None and start < previous_end:
                start = previous_end  # only possible around a DST change; keep occurrences disjoint
            if end <= start:
                continue
            previous_end = end
            if end > entry_us and start < exit_us:
                yield band, start, end
        day += timedelta(days=1)


def _band_charge(rules: _OwnRules, entry_us: int, exit_us: int, windows, tz: tzinfo) -> int:
    """Rules 2–4: units in time order, each priced by the step in force at its start, under the caps."""
    total = 0
    daily_cap = rules.daily_cap_fen
    daily_used: dict[int, int] = {}
    window_ends = [end for _, end in windows]
    for band, occ_start, occ_end in _occurrences(rules.bands, entry_us, exit_us, tz):
        start, end = max(occ_start, entry_us), min(occ_end, exit_us)
        band_left = band.cap_fen
        for piece_start, piece_end in _minus_windows(start, end, windows, window_ends):
            t = piece_start
            while t < piece_end:
                day_index = (t - entry_us) // _DAY_US
                day_start = entry_us + day_index * _DAY_US
                step_index = bisect_right(band.afters, t - day_start) - 1
                step = band.ladder[step_index]
                segment_end = min(piece_end, day_start + _DAY_US)
                if step_index + 1 < len(band.ladder):
                    segment_end = min(segment_end, day_start + band.afters[step_index + 1])
                # Within [t, segment_end) nothing changes: units tile from t and the last is cut short.
                units = -(-(segment_end - t) // step.unit_us)
                amount = units * step.fen
                # Charging unit by unit under a cap gives min(units × price, what is left) in total.
                if band_left is not None:
                    amount = min(amount, band_left)
                if daily_cap is not None:
                    amount = min(amount, daily_cap - daily_used.get(day_index, 0))
                    daily_used[day_index] = daily_used.get(day_index, 0) + amount
                if band_left is not None:
                    band_left -= amount
                total += amount
                t = segment_end
    return total


def _minus_windows(start: int, end: int, windows, window_ends):
    """[start, end) without the free windows, as charging pieces in time order."""
    i = bisect_left(window_ends, start + 1)  # first window ending after start
    cursor = start
    while i < len(windows) and windows[i][0] < end:
        w_start, w_end = windows[i]
        if w_start > cursor:
            yield cursor, w_start
        cursor = max(cursor, w_end)
        i += 1
    if cursor < end:
        yield cursor, end


def _overnight_charge(night: _Overnight, entry: datetime, entry_us: int, exit_us: int, tz: tzinfo) -> int | None:
    """Rule 5: the overnight price, or None when the stay is not an overnight stay."""
    local = entry.astimezone(tz)
    day = local.date()
    # Compare with seconds: 19:59:59 is not yet night, 06:59:59 still is.
    time_us = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond
    after_us, before_us = night.after_min * _US_PER_MINUTE, night.before_min * _US_PER_MINUTE
    if night.after_min < night.before_min:
        if not after_us <= time_us < before_us:
            return None
        night_end = _local_us(day, night.before_min, tz)
    elif time_us >= after_us:
        night_end = _local_us(day, night.before_min + _DAY_MINUTES, tz)  # the next morning
    elif time_us < before_us:
        night_end = _local_us(day, night.before_min, tz)  # entered after midnight: this morning
    else:
        return None
    if exit_us >= night_end:
        return None
    units = -(-(exit_us - entry_us) // night.unit_us)
    amount = units * night.fen
    return amount if night.cap_fen is None else min(amount, night.cap_fen)
