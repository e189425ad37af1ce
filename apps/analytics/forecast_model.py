"""The occupancy forecast's arithmetic (issue 11 item 5), pure: no ORM, no clock, no settings.

A lot's free berths ``h`` minutes ahead are predicted from its weekday-hour history and its recent
trend::

    f̂(t+h) = P(t+h) + φ^(h/5) · a(t) + k · s(t) · τ(1 − e^(−h/τ))

- ``P`` is the lot's usual free count at that minute of the week: the mean of its past hours
  (``LotHour``), read at each hour's middle and joined by straight lines in between;
- ``a(t)`` is how far the lot is from its usual right now (the last sample minus ``P(t)``); it fades
  by ``φ`` every five minutes, ``φ`` being the lag-one autocorrelation of the lot's own deviations;
- ``s(t)`` is the slope (berths a minute) of the deviations over the last half hour, carried
  forward damped (τ = 30 minutes), weighted by ``k`` — chosen per lot from ``TREND_WEIGHTS`` by
  what did best on the days before the evaluation.

Every prediction is rounded to a whole berth and clamped to 0..total. Time is counted in five-minute
steps since the Unix epoch (``slot``); minutes of the week are local (Monday 00:00 is 0).

The evaluation (``evaluate``) replays held-out days: at each sample it predicts every horizon from
what was known then, beside the two naive baselines — the count now, and the count a week before
the target time — and reports the mean absolute error of each on the same points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

STEP_MIN = 5
HORIZONS = (15, 30, 60)
WEEK_MIN = 7 * 24 * 60
WEEK_SLOTS = WEEK_MIN // STEP_MIN
#: the trend's window and its damping horizon (minutes)
TREND_WINDOW_MIN = 30
TREND_TAU_MIN = 30.0
#: the trend weights tried per lot when fitting
TREND_WEIGHTS = (0.0, 0.5, 1.0)
# The Unix epoch (1970-01-01) was a Thursday: weekday 3 with Monday as 0.
_EPOCH_WEEKDAY = 3


def minute_of_week(slot: int, utc_offset_min: int) -> int:
    """The local minute of the week (Monday 00:00 = 0) at the start of five-minute ``slot``."""
    local = slot * STEP_MIN + utc_offset_min
    days, minute = divmod(local, 24 * 60)
    return ((days + _EPOCH_WEEKDAY) % 7) * 24 * 60 + minute


@dataclass(frozen=True)
class Profile:
    """A lot's usual free count per (weekday, hour): ``hours[(weekday, hour)]`` (local, Monday 0)."""

    hours: Mapping[tuple[int, int], float]

    def at(self, minute_of_week: int) -> float | None:
        """The usual free count at that minute: the hour's value at its middle, a straight line to
        the neighbouring hour's middle (the neighbour missing: the hour's own value). None when the
        hour itself has no history."""
        minute_of_week %= WEEK_MIN
        index, minute = divmod(minute_of_week, 60)
        here = self.hours.get(divmod(index, 24))
        if here is None:
            return None
        offset = minute - 30  # minutes from the hour's middle
        neighbour_index = (index + (1 if offset >= 0 else -1)) % (7 * 24)
        there = self.hours.get(divmod(neighbour_index, 24))
        if there is None or offset == 0:
            return here
        return here + (there - here) * abs(offset) / 60


class _Remembered:
    """A profile whose readings are remembered: a replay reads the same minutes again and again."""

    def __init__(self, profile: Profile):
        self._profile = profile
        self._seen: dict[int, float | None] = {}

    def at(self, minute_of_week: int) -> float | None:
        minute_of_week %= WEEK_MIN
        try:
            return self._seen[minute_of_week]
        except KeyError:
            value = self._seen[minute_of_week] = self._profile.at(minute_of_week)
            return value


@dataclass(frozen=True)
class Params:
    """What the evaluation fitted for one lot."""

    decay: float = 1.0  # φ: how much of the deviation from the usual is left five minutes on
    trend: float = 0.0  # k: the weight of the recent slope


def clamp(value: float, total: int) -> int:
    """A prediction as the API gives it: a whole number of berths within 0..total."""
    if not math.isfinite(value):
        raise ValueError("a prediction must be a finite number")
    return max(0, min(total, round(value)))


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of (x, y) points; 0 with fewer than three or no spread in x."""
    n = len(points)
    if n < 3:
        return 0.0
    sum_x = sum_y = 0.0
    for x, y in points:
        sum_x += x
        sum_y += y
    mean_x, mean_y = sum_x / n, sum_y / n
    sxx = sxy = 0.0
    for x, y in points:  # two passes, not the one-pass formula: no cancellation
        dx = x - mean_x
        sxx += dx * dx
        sxy += dx * (y - mean_y)
    if sxx == 0:
        return 0.0
    return sxy / sxx


def predict(*, recent: Sequence[tuple[int, float]], now_slot: int, utc_offset_min: int, profile: Profile,
            params: Params, total: int, horizons: Iterable[int] = HORIZONS) -> dict[int, int] | None:
    """Free berths ``h`` minutes after ``now_slot`` for each horizon, or None when the history cannot
    support it (no sample at ``now_slot``, or an hour with no history on the way).

    ``recent`` is the lot's samples as (slot, free), any order; those within ``TREND_WINDOW_MIN``
    up to ``now_slot`` are used, the one at ``now_slot`` is required.
    """
    window = TREND_WINDOW_MIN // STEP_MIN
    deviations: list[tuple[float, float]] = []
    current = None
    for slot, free in recent:
        if now_slot - window <= slot <= now_slot:
            usual = profile.at(minute_of_week(slot, utc_offset_min))
            if usual is None:
                return None
            deviations.append(((slot - now_slot) * STEP_MIN, free - usual))
            if slot == now_slot:
                current = free - usual
    if current is None:
        return None
    per_minute = slope(deviations) if params.trend else 0.0
    result = {}
    for horizon in horizons:
        usual = profile.at(minute_of_week(now_slot, utc_offset_min) + horizon)
        if usual is None:
            return None
        result[horizon] = _ahead(usual, current, per_minute, params, horizon, total)
    return result


def _ahead(usual: float, current: float, per_minute: float, params: Params, horizon: int, total: int) -> int:
    """The formula itself, for one horizon (``predict`` and the replay both come here)."""
    carried = params.decay ** (horizon / STEP_MIN) * current
    trend = params.trend * per_minute * TREND_TAU_MIN * (1 - math.exp(-horizon / TREND_TAU_MIN))
    return clamp(usual + carried + trend, total)


def fit_decay(series: Mapping[int, float], *, profile: Profile | _Remembered, utc_offset_min: int) -> float:
    """φ: the lag-one (five-minute) autocorrelation of the deviations from the usual, within 0..1.
    1 (the deviation persists) when there is too little to measure."""
    numerator = denominator = 0.0
    pairs = 0
    for slot, free in series.items():
        following = series.get(slot + 1)
        if following is None:
            continue
        usual_now = profile.at(minute_of_week(slot, utc_offset_min))
        usual_next = profile.at(minute_of_week(slot + 1, utc_offset_min))
        if usual_now is None or usual_next is None:
            continue
        here, there = free - usual_now, following - usual_next
        numerator += here * there
        denominator += here * here
        pairs += 1
    if pairs < 12 or denominator == 0:
        return 1.0
    return max(0.0, min(1.0, numerator / denominator))


@dataclass
class Errors:
    """Sums of absolute errors per horizon over the same points, for the model and both baselines."""

    points: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0))
    model: dict[int, float] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0.0))
    now: dict[int, float] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0.0))
    last_week: dict[int, float] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0.0))

    def mae(self, which: str, horizon: int) -> float | None:
        count = self.points[horizon]
        return getattr(self, which)[horizon] / count if count else None


@dataclass(frozen=True, slots=True)
class _Point:
    """One replayed sample: what a forecast made then starts from, whatever the parameters (the
    deviation now, the slope of the last half hour's, the usual at each horizon), and per horizon
    the measured target and the count a week before it (None where either is missing)."""

    free: float
    current: float
    per_minute: float
    usual: tuple[float, ...]
    targets: tuple[tuple[float, float] | None, ...]


def _replay(series: Mapping[int, float], *, slots: Iterable[int], profile: Profile | _Remembered,
            utc_offset_min: int) -> list[_Point]:
    """The points of ``slots`` a forecast can be made at, each worked out once: a fit tries several
    parameters on the same points. The same readings as ``predict`` makes (slots ascending)."""
    window = TREND_WINDOW_MIN // STEP_MIN
    steps = [horizon // STEP_MIN for horizon in HORIZONS]
    slots = [slot for slot in slots if slot in series]
    if not slots:
        return []
    # The usual at every slot read, once: slot - first is its index.
    first = min(slots) - window
    usual_of = [profile.at(minute_of_week(slot, utc_offset_min)) for slot in range(first, max(slots) + steps[-1] + 1)]
    points = []
    for now_slot in slots:
        free = series[now_slot]
        deviations = []
        for slot in range(now_slot - window, now_slot + 1):
            value = series.get(slot)
            if value is None:
                continue
            usual = usual_of[slot - first]
            if usual is None:
                break
            deviations.append(((slot - now_slot) * STEP_MIN, value - usual))
        else:
            ahead = [usual_of[now_slot + step - first] for step in steps]
            if None in ahead:
                continue
            targets = []
            for step in steps:
                actual, week_ago = series.get(now_slot + step), series.get(now_slot + step - WEEK_SLOTS)
                targets.append(None if actual is None or week_ago is None else (actual, week_ago))
            points.append(_Point(free, deviations[-1][1], slope(deviations), tuple(ahead), tuple(targets)))
    return points


def _score(points: Iterable[_Point], *, params: Params, total: int) -> Errors:
    errors = Errors()
    for point in points:
        for horizon, usual, target in zip(HORIZONS, point.usual, point.targets, strict=True):
            if target is None:
                continue
            actual, week_ago = target
            predicted = _ahead(usual, point.current, point.per_minute if params.trend else 0.0, params, horizon,
                               total)
            errors.points[horizon] += 1
            errors.model[horizon] += abs(predicted - actual)
            errors.now[horizon] += abs(point.free - actual)
            errors.last_week[horizon] += abs(week_ago - actual)
    return errors


def evaluate(series: Mapping[int, float], *, slots: Iterable[int], profile: Profile, params: Params,
             total: int, utc_offset_min: int) -> Errors:
    """Replay ``slots`` (the held-out sample times): each point where the model, the count now and
    the count a week before the target all have an answer and the target was measured counts for
    all three. The model's number at each is ``predict``'s from the samples known then."""
    return _score(_replay(series, slots=slots, profile=profile, utc_offset_min=utc_offset_min), params=params,
                  total=total)


def beats_baselines(errors: Errors, *, min_points: int) -> bool:
    """Whether the model is kept: at every horizon, measured on at least ``min_points`` points and
    strictly better than both the count now and last week's count."""
    for horizon in HORIZONS:
        if errors.points[horizon] < min_points:
            return False
        model = errors.mae("model", horizon)
        if not (model < errors.mae("now", horizon) and model < errors.mae("last_week", horizon)):
            return False
    return True


def fit(series: Mapping[int, float], *, slots: Sequence[int], profile: Profile, total: int,
        utc_offset_min: int) -> Params:
    """The lot's parameters from the days before the held-out ones (``slots``): φ from its
    deviations, then the trend weight that gave the lowest summed error over the horizons."""
    profile = _Remembered(profile)
    decay = fit_decay({slot: series[slot] for slot in slots if slot in series}, profile=profile,
                      utc_offset_min=utc_offset_min)
    best, best_error = Params(decay=decay, trend=0.0), math.inf
    points = _replay(series, slots=slots, profile=profile, utc_offset_min=utc_offset_min)
    for weight in TREND_WEIGHTS:
        params = Params(decay=decay, trend=weight)
        errors = _score(points, params=params, total=total)
        measured = [errors.mae("model", horizon) for horizon in HORIZONS]
        if any(value is None for value in measured):
            continue
        error = sum(measured)
        if error < best_error - 1e-9:
            best, best_error = params, error
    return best
