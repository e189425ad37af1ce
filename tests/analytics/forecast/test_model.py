"""The forecast's arithmetic (apps.analytics.forecast_model): properties, and the evaluation's choice
between the model and the naive baselines on crafted series."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.analytics import forecast_model as fm

OFFSET = 480  # Asia/Shanghai
DAY = 24 * 60 // fm.STEP_MIN
# A local Monday 00:00 (UTC+8), as a slot: 2026-03-16T00:00+08:00.
MONDAY = 1_773_590_400 // 300
assert fm.minute_of_week(MONDAY, OFFSET) == 0


def flat(value: float) -> fm.Profile:
    return fm.Profile({(weekday, hour): value for weekday in range(7) for hour in range(24)})


def recent_of(values: list[float], now_slot: int) -> list[tuple[int, float]]:
    """The last len(values) samples, the final one at ``now_slot``."""
    return [(now_slot - len(values) + 1 + i, value) for i, value in enumerate(values)]


# --- minutes of the week and the profile -----------------------------------------------------------

def test_minute_of_week_counts_from_local_monday():
    assert fm.minute_of_week(0, OFFSET) == 3 * 1440 + 8 * 60  # the epoch: Thursday 08:00 in Wuxi
    assert fm.minute_of_week(MONDAY + 12 * 7 * DAY, OFFSET) == 0
    assert fm.minute_of_week(MONDAY - 1, OFFSET) == fm.WEEK_MIN - 5  # Sunday 23:55


def test_profile_is_the_hour_at_its_middle_and_a_straight_line_between():
    profile = fm.Profile({(0, 8): 10.0, (0, 9): 40.0})
    assert profile.at(8 * 60 + 30) == 10.0
    assert profile.at(9 * 60) == pytest.approx(25.0)
    assert profile.at(9 * 60 + 15) == pytest.approx(32.5)
    assert profile.at(8 * 60) == 10.0  # the hour before has no history: the hour's own value
    assert profile.at(10 * 60) is None  # no history for that hour at all


def test_profile_wraps_from_sunday_night_to_monday_morning():
    profile = fm.Profile({(6, 23): 0.0, (0, 0): 60.0})
    assert profile.at(fm.WEEK_MIN - 1) == pytest.approx(29.0)  # Sunday 23:59, 29 minutes past its middle
    assert profile.at(fm.WEEK_MIN) == pytest.approx(30.0)  # == Monday 00:00


# --- predictions -------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(total=st.integers(1, 2000), share=st.floats(0, 1), decay=st.floats(0, 1),
       trend=st.sampled_from(fm.TREND_WEIGHTS), at=st.integers(0, 3 * fm.WEEK_SLOTS))
def test_a_constant_series_with_the_same_history_is_forecast_constant(total, share, decay, trend, at):
    value = round(total * share)
    now_slot = MONDAY + at
    predicted = fm.predict(recent=recent_of([value] * 7, now_slot), now_slot=now_slot, utc_offset_min=OFFSET,
                           profile=flat(value), params=fm.Params(decay=decay, trend=trend), total=total)
    assert predicted == {15: value, 30: value, 60: value}


@settings(max_examples=60, deadline=None)
@given(step=st.floats(0.5, 5), start=st.integers(0, 50))
def test_a_rising_series_is_carried_on_rising_by_its_trend(step, start):
    now_slot = MONDAY + 100
    values = [start + step * i for i in range(7)]
    params = fm.Params(decay=1.0, trend=1.0)
    predicted = fm.predict(recent=recent_of(values, now_slot), now_slot=now_slot, utc_offset_min=OFFSET,
                           profile=flat(start), params=params, total=10_000)
    per_minute = step / fm.STEP_MIN
    for horizon in fm.HORIZONS:
        expected = values[-1] + per_minute * fm.TREND_TAU_MIN * (1 - math.exp(-horizon / fm.TREND_TAU_MIN))
        assert predicted[horizon] == round(expected)
    assert values[-1] <= predicted[15] <= predicted[30] <= predicted[60]
    assert values[-1] + 2 <= predicted[60]
    # Without the trend, a flat history and a deviation that persists: the count now.
    no_trend = fm.predict(recent=recent_of(values, now_slot), now_slot=now_slot, utc_offset_min=OFFSET,
                          profile=flat(start), params=fm.Params(decay=1.0, trend=0.0), total=10_000)
    assert no_trend == dict.fromkeys(fm.HORIZONS, round(values[-1]))


def test_the_deviation_fades_towards_the_usual_by_decay():
    now_slot = MONDAY + 100
    predicted = fm.predict(recent=recent_of([80], now_slot), now_slot=now_slot, utc_offset_min=OFFSET,
                           profile=flat(50), params=fm.Params(decay=0.5, trend=0.0), total=100)
    assert predicted == {15: 50 + round(30 * 0.5 ** 3), 30: round(50 + 30 * 0.5 ** 6), 60: round(50 + 30 * 0.5 ** 12)}


def test_the_history_says_where_the_count_is_going():
    """At 08:00 on a Monday the usual count falls by 30 an hour: the forecast falls with it."""
    profile = fm.Profile({(0, hour): 100.0 - 30 * max(0, hour - 7) for hour in range(24)})
    now_slot = MONDAY + 8 * 60 // fm.STEP_MIN + 6  # 08:30, the hour's middle: usual 70
    predicted = fm.predict(recent=recent_of([70], now_slot), now_slot=now_slot, utc_offset_min=OFFSET,
                           profile=profile, params=fm.Params(), total=100)
    assert predicted == {15: 62, 30: 55, 60: 40}


@settings(max_examples=100, deadline=None)
@given(total=st.integers(0, 500), usual=st.floats(-1e6, 1e6),
       recent=st.lists(st.integers(0, 500), min_size=1, max_size=7), decay=st.floats(0, 1),
       trend=st.sampled_from(fm.TREND_WEIGHTS))
def test_every_prediction_is_a_whole_number_within_0_and_total(total, usual, recent, decay, trend):
    now_slot = MONDAY + 200
    predicted = fm.predict(recent=recent_of(recent, now_slot), now_slot=now_slot, utc_offset_min=OFFSET,
                           profile=flat(usual), params=fm.Params(decay=decay, trend=trend), total=total)
    assert set(predicted) == set(fm.HORIZONS)
    assert all(isinstance(value, int) and 0 <= value <= total for value in predicted.values())


def test_clamp_rounds_and_bounds():
    assert fm.clamp(-3.2, 40) == 0
    assert fm.clamp(41.7, 40) == 40
    assert fm.clamp(12.6, 40) == 13
    with pytest.raises(ValueError):
        fm.clamp(float("nan"), 40)


def test_no_forecast_without_a_sample_now_or_without_history_ahead():
    now_slot = MONDAY + 8 * 60 // fm.STEP_MIN
    monday_morning = fm.Profile({(0, hour): 50.0 for hour in range(6, 9)})
    params = fm.Params()
    assert fm.predict(recent=[(now_slot - 1, 50)], now_slot=now_slot, utc_offset_min=OFFSET, profile=flat(50),
                      params=params, total=100) is None
    # 08:00 + 60 minutes is 09:00, an hour with no history
    assert fm.predict(recent=[(now_slot, 50)], now_slot=now_slot, utc_offset_min=OFFSET, profile=monday_morning,
                      params=params, total=100) is None
    assert fm.predict(recent=[(now_slot, 50)], now_slot=now_slot - 12, utc_offset_min=OFFSET,
                      profile=monday_morning, params=params, total=100) is None  # the sample is not "now"


def test_slope_is_least_squares_and_zero_with_too_little():
    assert fm.slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert fm.slope([(0, 1), (1, 3)]) == 0.0
    assert fm.slope([(1, 1), (1, 3), (1, 5)]) == 0.0


# --- the evaluation's choice on crafted series -------------------------------------------------------

def usual_free(minute_of_week: int) -> float:
    """A lot that empties by day and fills by night, the same every day."""
    minute_of_day = minute_of_week % 1440
    return 50 + 40 * math.sin(2 * math.pi * minute_of_day / 1440)


def profile_of(series: dict[int, float], before: int) -> fm.Profile:
    sums: dict[tuple[int, int], list[float]] = {}
    for slot, free in series.items():
        if slot < before:
            sums.setdefault(divmod(fm.minute_of_week(slot, OFFSET) // 60, 24), []).append(free)
    return fm.Profile({key: sum(values) / len(values) for key, values in sums.items()})


def crafted(kind: str, *, days: int = 15, seed: int = 7) -> dict[int, float]:
    rng = random.Random(seed)
    series, deviation, walk = {}, 0.0, 50.0
    for slot in range(MONDAY, MONDAY + days * DAY):
        if kind == "daily":  # the daily shape, a deviation that lingers, and jitter
            deviation = 0.8 * deviation + rng.gauss(0, 2)
            series[slot] = min(100, max(0, round(usual_free(fm.minute_of_week(slot, OFFSET)) + deviation)))
        elif kind == "wandering":  # no rhythm at all: a random walk
            walk = min(100.0, max(0.0, walk + rng.gauss(0, 3)))
            series[slot] = round(walk)
        elif kind == "weekly":  # exactly last week's count, every week
            series[slot] = series[slot - fm.WEEK_SLOTS] if slot - fm.WEEK_SLOTS in series else rng.randint(0, 100)
    return series


def judged(series: dict[int, float]) -> tuple[fm.Errors, bool]:
    held_out = MONDAY + 14 * DAY
    profile = profile_of(series, held_out)
    params = fm.fit(series, slots=range(held_out - 7 * DAY, held_out), profile=profile, total=100,
                    utc_offset_min=OFFSET)
    errors = fm.evaluate(series, slots=range(held_out, held_out + DAY), profile=profile, params=params, total=100,
                         utc_offset_min=OFFSET)
    return errors, fm.beats_baselines(errors, min_points=48)


def test_a_lot_that_follows_its_day_keeps_the_model():
    errors, kept = judged(crafted("daily"))
    assert kept
    for horizon in fm.HORIZONS:
        assert errors.points[horizon] == DAY - horizon // fm.STEP_MIN  # the last targets fall after the data
        assert errors.mae("model", horizon) < errors.mae("now", horizon)
        assert errors.mae("model", horizon) < errors.mae("last_week", horizon)
    # an hour ahead the count now is far off (the day moves 10 berths an hour at its steepest)
    assert errors.mae("now", 60) > 2 * errors.mae("model", 60)


def test_a_wandering_lot_falls_back_to_null():
    errors, kept = judged(crafted("wandering"))
    assert not kept
    assert errors.mae("model", 60) >= errors.mae("now", 60)  # its history only adds noise


def test_a_lot_that_repeats_last_week_exactly_is_left_to_the_baseline():
    errors, kept = judged(crafted("weekly"))
    assert not kept
    assert errors.mae("last_week", 30) == 0  # nothing beats a baseline that is never wrong


def test_too_few_points_keep_nothing():
    errors, _kept = judged(crafted("daily"))
    assert not fm.beats_baselines(errors, min_points=errors.points[60] + 1)
    assert not fm.beats_baselines(fm.Errors(), min_points=1)


def test_every_point_counts_for_the_model_and_both_baselines_alike():
    series = crafted("daily", days=15)
    held_out = MONDAY + 14 * DAY
    # a gap in last week's data: those targets are left out for all three, not only the baseline
    for slot in range(held_out - fm.WEEK_SLOTS + 24, held_out - fm.WEEK_SLOTS + 48):
        del series[slot]
    errors = fm.evaluate(series, slots=range(held_out, held_out + DAY), profile=profile_of(series, held_out),
                         params=fm.Params(decay=0.8), total=100, utc_offset_min=OFFSET)
    assert errors.points[15] == DAY - 3 - 24
    assert errors.points[60] == DAY - 12 - 24


def replayed_by_predict(series, *, slots, profile, params, total=100) -> fm.Errors:
    """The evaluation spelled out: ``predict`` at every sample from the half hour before it."""
    errors = fm.Errors()
    for now_slot in slots:
        if now_slot not in series:
            continue
        recent = [(slot, series[slot]) for slot in range(now_slot - 6, now_slot + 1) if slot in series]
        predicted = fm.predict(recent=recent, now_slot=now_slot, utc_offset_min=OFFSET, profile=profile,
                               params=params, total=total)
        if predicted is None:
            continue
        for horizon in fm.HORIZONS:
            target = now_slot + horizon // fm.STEP_MIN
            if target in series and target - fm.WEEK_SLOTS in series:
                errors.points[horizon] += 1
                errors.model[horizon] += abs(predicted[horizon] - series[target])
                errors.now[horizon] += abs(series[now_slot] - series[target])
                errors.last_week[horizon] += abs(series[target - fm.WEEK_SLOTS] - series[target])
    return errors


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), kind=st.sampled_from(["daily", "wandering"]),
       decay=st.floats(0, 1), trend=st.sampled_from(fm.TREND_WEIGHTS), gaps=st.integers(0, 40),
       missing_hours=st.integers(0, 3))
def test_the_evaluation_scores_exactly_what_predict_says(seed, kind, decay, trend, gaps, missing_hours):
    # The evaluation works each point out once for all the parameters a fit tries: it must give the
    # very numbers predict gives, gaps in the samples and hours without history included.
    rng = random.Random(seed)
    series = crafted(kind, days=9, seed=seed)
    for _ in range(gaps):
        series.pop(MONDAY + rng.randrange(9 * DAY), None)
    held_out = MONDAY + 8 * DAY
    hours = dict(profile_of(series, held_out).hours)
    for _ in range(missing_hours):
        hours.pop((rng.randrange(7), rng.randrange(24)), None)
    profile, params = fm.Profile(hours), fm.Params(decay=decay, trend=trend)
    slots = range(held_out, held_out + DAY)
    got = fm.evaluate(series, slots=slots, profile=profile, params=params, total=100, utc_offset_min=OFFSET)
    assert got == replayed_by_predict(series, slots=slots, profile=profile, params=params)
