"""The fee engine against SPEC §6, rule by rule, then by properties.

Amounts are worked out by hand in the comments (fen). Times are Asia/Shanghai unless said otherwise.
Nothing here imports Django: the engine is pure, and these tests run with ``-p no:django``.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.lots.fees import FeeInputError, TariffError, compute_fee, validate_rules

SH = ZoneInfo("Asia/Shanghai")
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "tariffs" / "wuxi.json"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Stands in for tests/conftest.py's cache fixture: the engine needs no Django, nor a cache."""
    yield


from tests.spec_tariffs import CORE, HOSPITAL  # noqa: E402  (SPEC §6, verbatim)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """2026-03-<day> local time (17 March 2026 is a Tuesday; the engine has no weekdays anyway)."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=SH)


def fee(rules, entry, exit, vehicle_class="small", **kwargs) -> int:
    return compute_fee(rules, vehicle_class=vehicle_class, entry=entry, exit=exit, **kwargs)


def one_band(start="00:00", end="24:00", *, unit=60, fen=100, free=0, cap=None, **extra) -> dict:
    band = {"start": start, "end": end, "ladder": [{"after_minutes": 0, "unit_minutes": unit, "unit_fen": fen}]}
    if cap is not None:
        band["cap_fen"] = cap
    return {"small": {"free_minutes": free, "bands": [band], **extra}}


# ---------------------------------------------------------------------------------------------------
# Rule 1: the free period


def test_exactly_the_free_period_is_free():
    assert fee(CORE, at(17, 9), at(17, 9, 30)) == 0


def test_one_second_over_the_free_period_is_charged_from_entry():
    # 09:00–09:30 300 + 09:30–09:30:01 300 (a started unit costs in full) = 600
    assert fee(CORE, at(17, 9), at(17, 9, 30, 1)) == 600


def test_zero_length_stay_with_no_free_minutes_costs_nothing():
    assert fee(one_band(free=0), at(17, 9), at(17, 9)) == 0
    # one second: one started 60-minute unit
    assert fee(one_band(free=0), at(17, 9), at(17, 9, 0, 1)) == 100


def test_new_energy_uses_its_own_free_minutes():
    assert fee(CORE, at(17, 9), at(17, 11), new_energy=True) == 0  # 120 min ≤ 120
    # 09:00–10:00 2×300 + 10:00–11:00 2×400 + 11:00–11:00:01 400 = 1800; half price = 900
    assert fee(CORE, at(17, 9), at(17, 11, 0, 1), new_energy=True) == 900
    # Without the new-energy block a new-energy car gets the ordinary terms.
    assert fee(one_band(free=10), at(17, 9), at(17, 9, 11), new_energy=True) == 100


# ---------------------------------------------------------------------------------------------------
# Rule 2: bands and free windows


def test_time_outside_every_band_is_free():
    # 19:00–20:00 2×500 = 1000; 20:00–22:00 is in no band
    assert fee(CORE, at(17, 19), at(17, 22)) == 1000
    assert fee(CORE, at(17, 20), at(18, 7)) == 0


def test_band_end_is_exclusive_and_start_inclusive():
    # Entry 06:00, exit 07:00:00 (no band) → 0 … but a stay ending at 07:00:01 starts a 07:00 unit: 500.
    assert fee(CORE, at(17, 6), at(17, 7)) == 0
    assert fee(CORE, at(17, 6), at(17, 7, 0, 1)) == 500


def test_band_wraps_past_midnight():
    night = one_band("22:00", "02:00")
    # 22–23, 23–00, 00–01, 01–02: 4 × 100 = 400; 21–22 and 02–03 are in no band
    assert fee(night, at(17, 21), at(18, 3)) == 400
    # One occurrence spans midnight, so a unit is not cut there: 23:30–00:20 is one unit = 100
    assert fee(night, at(17, 23, 30), at(18, 0, 20)) == 100
    # Entering after midnight lands in the occurrence that began the evening before: 01:00–02:00 = 100
    assert fee(night, at(18, 1), at(18, 3)) == 100


def test_all_day_band_has_one_occurrence_per_calendar_day():
    all_day = one_band("00:00", "24:00")
    # The 23:30 unit ends at the occurrence's end (midnight): 23:30–00:00 100 + 00:00–00:20 100 = 200
    assert fee(all_day, at(17, 23, 30), at(18, 0, 20)) == 200
    # Capped per occurrence: 17th 20:00–24:00 4×100 = 400 (cap 500 not reached); 18th 00:00–10:00 10×100 = 1000
    # → 500. Total 900.
    capped = one_band("00:00", "24:00", cap=500)
    assert fee(capped, at(17, 20), at(18, 10)) == 900


def test_band_ending_at_24_00():
    evening = one_band("20:00", "24:00")
    # 20–21 … 23–24: 4 × 100; 00:00–01:00 is in no band
    assert fee(evening, at(17, 19), at(18, 1)) == 400


def test_free_window_splits_units():
    # Window 09:45–10:15. 09:00–09:30 300; 09:30–09:45 cut at the window 300; charging resumes 10:15,
    # elapsed 75 min → step 2: 10:15–10:45 400, 10:45–11:00 cut at exit 400. Total 1400.
    window = [(at(17, 9, 45), at(17, 10, 15))]
    assert fee(CORE, at(17, 9), at(17, 11), free_windows=window) == 1400


def test_free_window_mid_unit_never_makes_the_stay_dearer():
    # Without a window 09:00–10:00 is 2×300 = 600. Cutting units at a window 09:10–09:20 (rule 3) would give
    # 09:00–09:10 300; 09:20–09:50 300; 09:50–10:00 300 (cut at exit) = 900. SPEC §6 rule 2 as revised: a free
    # window never makes a stay dearer, so the stay costs the smaller of the two, 600.
    assert fee(CORE, at(17, 9), at(17, 10)) == 600
    assert fee(CORE, at(17, 9), at(17, 10), free_windows=[(at(17, 9, 10), at(17, 9, 20))]) == 600


def test_a_window_that_saves_more_than_its_cut_costs_is_still_applied():
    # 09:00–11:00 without a window: 2×300 + 2×400 = 1400. Window 09:10–09:50: 09:00–09:10 300, then from 09:50
    # (elapsed 50 min, step 1) 09:50–10:00 300 (cut at the step), 10:00–10:30 400, 10:30–11:00 400 = 1400;
    # window 09:05–10:25: 09:00–09:05 300, 10:25–10:55 400, 10:55–11:00 400 = 1100 < 1400.
    assert fee(CORE, at(17, 9), at(17, 11), free_windows=[(at(17, 9, 10), at(17, 9, 50))]) == 1400
    assert fee(CORE, at(17, 9), at(17, 11), free_windows=[(at(17, 9, 5), at(17, 10, 25))]) == 1100


def test_adding_a_window_to_others_can_raise_the_price_but_never_above_no_window():
    # Rule 2 compares "with the windows" against "without any window", not every subset of the windows.
    # 09:00–12:00 without a window: 2×300 + 4×400 = 2200. With 09:00–10:00 free: from 10:00 (step 2)
    # 4×400 = 1600. Adding 10:10–10:20 cuts a unit: 10:00–10:10, 10:20–10:50, 10:50–11:20, 11:20–11:50,
    # 11:50–12:00 = 5×400 = 2000: dearer than the one window gave, cheaper than no window.
    one = [(at(17, 9), at(17, 10))]
    two = [*one, (at(17, 10, 10), at(17, 10, 20))]
    assert fee(CORE, at(17, 9), at(17, 12)) == 2200
    assert fee(CORE, at(17, 9), at(17, 12), free_windows=one) == 1600
    assert fee(CORE, at(17, 9), at(17, 12), free_windows=two) == 2000


def test_free_windows_covering_the_stay_or_outside_it():
    assert fee(CORE, at(17, 9), at(17, 12), free_windows=[(at(17, 0), at(18, 0))]) == 0
    # A window outside the stay changes nothing: 09:00–10:30 = 2×300 + 1×400 = 1000
    assert fee(CORE, at(17, 9), at(17, 10, 30), free_windows=[(at(16, 9), at(16, 12))]) == 1000
    # Overlapping windows are merged: 09:00–10:30 all free
    windows = [(at(17, 9), at(17, 10)), (at(17, 9, 30), at(17, 10, 30))]
    assert fee(CORE, at(17, 9), at(17, 10, 30), free_windows=windows) == 0


def test_time_in_a_free_window_still_counts_as_elapsed():
    # Window 09:00–10:00 (e.g. school pick-up). At 10:00 the elapsed time is 60 min → step 2 (400):
    # 10:00–10:30 400 + 10:30–11:00 400 = 800
    assert fee(CORE, at(17, 9), at(17, 11), free_windows=[(at(17, 9), at(17, 10))]) == 800


def test_local_time_is_shanghai_whatever_offset_the_times_carry():
    entry_utc = at(17, 9).astimezone(UTC)  # 01:00Z
    exit_utc = at(17, 10, 30).astimezone(timezone(timedelta(hours=-5)))
    assert fee(CORE, entry_utc, exit_utc) == 1000
    # The zone is data: the same instants read in UTC fall at 01:00–02:30, in no band.
    assert fee(CORE, entry_utc, exit_utc, tz=UTC) == 0


# ---------------------------------------------------------------------------------------------------
# Rule 3: ladders and units


def test_ladder_steps_by_elapsed_time():
    # 09:00–10:30: 2 units ×300 + 1 unit ×400 = 1000
    assert fee(CORE, at(17, 9), at(17, 10, 30)) == 1000


def test_elapsed_time_counts_from_entry_not_from_the_band_start():
    # Entry 08:00: 08:00–09:00 2×500 = 1000. At 09:00 elapsed is 60 min → already step 2:
    # 09:00–10:00 2×400 = 800. Total 1800.
    assert fee(CORE, at(17, 8), at(17, 10)) == 1800


def test_unit_cut_at_band_end():
    # 08:45–09:00 cut at the 07–09 band's end 500; 09:00–09:20 (elapsed 15 min, step 1) 300. Total 800.
    assert fee(CORE, at(17, 8, 45), at(17, 9, 20)) == 800


def test_unit_cut_at_next_step_start():
    # 08:50–09:00 500 (band end). 09:00–09:30 300 (elapsed 10). 09:30–09:50 300: cut at 09:50, where elapsed
    # reaches 60 and step 2 starts. 09:50–10:20 400. Total 500 + 300 + 300 + 400 = 1500.
    assert fee(CORE, at(17, 8, 50), at(17, 10, 20)) == 1500


def test_every_started_unit_costs_in_full():
    # 09:00–09:30 300 + 09:30–09:31 300 = 600
    assert fee(CORE, at(17, 9), at(17, 9, 31)) == 600


def test_ladder_restarts_at_every_24_hour_mark():
    # Hospital, 08:00 on the 17th to 10:00 on the 18th.
    # First 24 h: 08–10 200, 10–12 2×200, 12–15 3×300 (cumulative 1500), then 500 an hour; the daily cap
    # 4000 is reached after five of them (15:00–20:00). Second 24 h from 08:00 on the 18th: elapsed restarts
    # at 0, so 08:00–10:00 is one 120-minute unit at the first step: 200. Total 4200.
    assert fee(HOSPITAL, at(17, 8), at(18, 10)) == 4200


def test_unit_cut_at_the_24_hour_mark():
    rules = one_band("00:00", "24:00", unit=90)
    # Entry 10:00. 10:00–24:00 = 840 min → 10 units (the last 23:30–24:00 cut at the occurrence end).
    # 00:00–10:00 = 600 min → 7 units (the last 09:00–10:00 cut at the 24-hour mark).
    # 10:00–10:30 → 1 unit. 18 × 100 = 1800 (without the cut at 10:00 it would be 17).
    assert fee(rules, at(17, 10), at(18, 10, 30)) == 1800


def test_seconds_are_counted_exactly():
    # Entry 09:00:30; 09:00:30–09:30:30 300, 09:30:30–10:00:30 300, then step 2 at 10:00:30;
    # exit 10:00:30 exactly → 600. One second later a 400 unit has started → 1000.
    assert fee(CORE, at(17, 9, 0, 30), at(17, 10, 0, 30)) == 600
    assert fee(CORE, at(17, 9, 0, 30), at(17, 10, 0, 31)) == 1000


# ---------------------------------------------------------------------------------------------------
# Rule 4: caps


def test_band_cap():
    # 17:00–20:00 6×500 = 3000 → capped at 2000
    assert fee(CORE, at(17, 17), at(17, 20)) == 2000


def test_unit_passing_a_band_cap_is_charged_what_is_left():
    rules = copy.deepcopy(CORE)
    rules["small"]["bands"][2]["cap_fen"] = 1800
    # 17:00–19:00: 500 + 500 + 500 + (1800 − 1500 = 300) = 1800
    assert fee(rules, at(17, 17), at(17, 19)) == 1800


def test_band_cap_is_per_occurrence_across_two_days():
    # 17:00 on the 17th to 20:00 on the 18th.
    # 17th 17–20: 6×500 capped 2000. 18th 07–09: 4×500 = 2000.
    # 18th 09–17: elapsed from entry is 16 h+ → step 2: 16×400 = 6400.
    # 18th 17–20 (a new occurrence, and a new 24 h from entry): 6×500 capped 2000.
    # Total 2000 + 2000 + 6400 + 2000 = 12400.
    assert fee(CORE, at(17, 17), at(18, 20)) == 12400


def test_daily_cap():
    # 08–10 200, 10–12 2×200, 12–15 3×300, 15–22 7×500: 200+400+900+3500 = 5000 → 4000
    assert fee(HOSPITAL, at(17, 8), at(17, 22)) == 4000


def test_unit_passing_the_daily_cap_is_charged_what_is_left():
    rules = copy.deepcopy(HOSPITAL)
    rules["small"]["daily_cap_fen"] = 3300
    # 200, 200, 200, 300, 300, 300 (1500), 500, 500, 500 (3000), then 18:00–18:30 charged 3300 − 3000 = 300
    assert fee(rules, at(17, 8), at(17, 18, 30)) == 3300


def test_daily_cap_counts_24_hours_from_entry_not_calendar_days():
    rules = one_band("00:00", "24:00", daily_cap_fen=1000)
    # Entry 20:00 on the 17th; 20:00–08:00 is 12 units but within the first 24 h: capped at 1000.
    assert fee(rules, at(17, 20), at(18, 8)) == 1000
    # Exit 21:00 on the 18th: first 24 h capped 1000, 20:00–21:00 on the 18th is the second window: +100.
    assert fee(rules, at(17, 20), at(18, 21)) == 1100


def test_band_cap_and_daily_cap_together():
    rules = one_band("00:00", "24:00", cap=700, daily_cap_fen=1000)
    # First 24 h (17th 20:00 – 18th 20:00), daily cap 1000:
    #   17th's occurrence 20:00–24:00: 4×100 = 400.
    #   18th's occurrence 00:00–06:00: 6×100 = 600 → the daily cap is reached; 06:00–20:00 charges 0.
    # Second 24 h from 18th 20:00: the unit 20:00–21:00 would cost 100, and the 18th's occurrence has
    #   700 − 600 = 100 left under its cap: 100.
    # Total 400 + 600 + 100 = 1100.
    assert fee(rules, at(17, 20), at(18, 21)) == 1100


# ---------------------------------------------------------------------------------------------------
# Rule 5: overnight


def test_overnight_is_cheaper():
    # Normal: 22–24 200, 00–02 2×200, 02–05 3×300, 05–06 500 = 2000.
    # Overnight: 8 h → 8×100 = 800, capped at 500. min(2000, 500) = 500.
    assert fee(HOSPITAL, at(17, 22), at(18, 6)) == 500


def test_overnight_not_applicable_when_leaving_after_exit_before():
    # Normal 22:00–07:30: 2000 (to 06:00) + 06–07 500 + 07–07:30 500 = 3000
    assert fee(HOSPITAL, at(17, 22), at(18, 7, 30)) == 3000
    # Leaving at 07:00 exactly is not "strictly before": 2000 + 500 = 2500
    assert fee(HOSPITAL, at(17, 22), at(18, 7)) == 2500


def test_entry_after_midnight_counts_as_that_nights_entry():
    # Entry 01:00, exit 06:30. Normal: 01–03 200, 03–05 2×200, 05–06:30 2×300 = 1200.
    # Overnight: 5.5 h → 6×100 = 600 → cap 500.
    assert fee(HOSPITAL, at(17, 1), at(17, 6, 30)) == 500
    # Its night ends at 07:00 the same morning: leaving at 07:00 gets the normal price, 01–07 = 200+400+600 = 1200
    assert fee(HOSPITAL, at(17, 1), at(17, 7)) == 1200


def test_entry_before_entry_after_is_not_overnight():
    # Entry 19:59:59, exit 23:00: 19:59:59–21:59:59 200, –22:59:59 200, –23:00:00 200 = 600 (no overnight)
    assert fee(HOSPITAL, at(17, 19, 59, 59), at(17, 23)) == 600
    # Entry 20:00:00, exit 23:00:01: normal 600 again; overnight 4 started hours = 400 → 400
    assert fee(HOSPITAL, at(17, 20), at(17, 23, 0, 1)) == 400


def test_overnight_only_when_cheaper():
    rules = copy.deepcopy(HOSPITAL)
    rules["small"]["overnight"]["unit_fen"] = 150
    # 22:00–23:30: normal one 120-minute unit 200; overnight 2×150 = 300 → 200
    assert fee(rules, at(17, 22), at(17, 23, 30)) == 200


def test_free_windows_do_not_apply_to_the_overnight_charge():
    # Window 23:00–06:00. Normal: 22:00–23:00 (cut at the window) 200. Overnight ignores the window:
    # 8×100 → 500. min = 200. (Were the window applied to it, overnight would be 1×100 = 100.)
    assert fee(HOSPITAL, at(17, 22), at(18, 6), free_windows=[(at(17, 23), at(18, 6))]) == 200


def test_overnight_without_cap_and_non_wrapping_night():
    rules = one_band("00:00", "24:00", unit=60, fen=300,
                     overnight={"entry_after": "00:00", "exit_before": "06:00", "unit_minutes": 30, "unit_fen": 100})
    # Entry 01:00, exit 03:10: normal 3×300 = 900; overnight 5 half hours = 500
    assert fee(rules, at(17, 1), at(17, 3, 10)) == 500
    # Entry 23:00 is not in [00:00, 06:00): normal 23–24 300 + 00–01 300 = 600
    assert fee(rules, at(16, 23), at(17, 1)) == 600


# ---------------------------------------------------------------------------------------------------
# Rules 6 and 7: classes and new energy


def test_same_as_multiplies():
    # small 09:00–10:30 = 1000; large ×2 = 2000
    assert fee(CORE, at(17, 9), at(17, 10, 30), "large") == 2000
    # The base's free minutes apply: 30 min is free for large too
    assert fee(CORE, at(17, 9), at(17, 9, 30), "large") == 0
    # Caps scale too: 17:00–20:00 small 2000 → large 4000
    assert fee(CORE, at(17, 17), at(17, 20), "large") == 4000


def test_multiplier_before_new_energy_discount():
    # small 09:00–11:00:01 = 600 + 800 + 400 = 1800; ×2 = 3600; half = 1800
    assert fee(CORE, at(17, 9), at(17, 11, 0, 1), "large", new_energy=True) == 1800


def test_fractional_multiplier_rounds_down():
    rules = one_band(fen=333)
    rules["medium"] = {"same_as": "small", "multiplier": 1.5}
    # 1 unit 333 × 1.5 = 499.5 → 499
    assert fee(rules, at(17, 9), at(17, 9, 30), "medium") == 499


def test_new_energy_discount_rounds_down_to_the_fen():
    rules = one_band(fen=333, new_energy={"discount_percent": 33})
    # 3 units × 333 = 999; 999 × 67 / 100 = 669.33 → 669
    assert fee(rules, at(17, 9), at(17, 12), new_energy=True) == 669
    assert fee(rules, at(17, 9), at(17, 12)) == 999


def test_new_energy_discount_applies_to_the_overnight_price_too():
    rules = copy.deepcopy(HOSPITAL)
    rules["small"]["new_energy"] = {"discount_percent": 50}
    # Overnight 500 (see test_overnight_is_cheaper) → 250
    assert fee(rules, at(17, 22), at(18, 6), new_energy=True) == 250


# ---------------------------------------------------------------------------------------------------
# Rule 8 and the refusals


def test_a_longer_stay_never_costs_less_around_the_night_end():
    # Overnight ends at 07:00: 06:59:59 → 500 (overnight), 07:00:00 → 2500 (normal)
    before = fee(HOSPITAL, at(17, 22), at(18, 6, 59, 59))
    after = fee(HOSPITAL, at(17, 22), at(18, 7))
    assert before == 500
    assert after == 2500


def _assert_refused(rules, field: str, **kwargs):
    with pytest.raises(TariffError) as info:
        validate_rules(rules)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    # compute_fee refuses the same rule set before computing anything
    with pytest.raises(ValueError, match="^" + field.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        compute_fee(rules, vehicle_class="small", entry=at(17, 9), exit=at(17, 10), **kwargs)


def _core(mutate) -> dict:
    rules = copy.deepcopy(CORE)
    mutate(rules["small"])
    return rules


def _set_band(index, **values):
    def mutate(small):
        small["bands"][index].update(values)
    return mutate


def test_exit_before_entry_is_refused():
    with pytest.raises(FeeInputError) as info:
        fee(CORE, at(17, 10), at(17, 9))
    assert info.value.field == "exit"
    assert isinstance(info.value, ValueError)


def test_naive_times_are_refused():
    naive = datetime(2026, 3, 17, 9)
    for kwargs in ({"entry": naive, "exit": at(17, 10)}, {"entry": at(17, 8), "exit": naive}):
        with pytest.raises(ValueError, match="offset"):
            compute_fee(CORE, vehicle_class="small", **kwargs)
    with pytest.raises(ValueError, match=r"free_windows\[0\]\[1\]"):
        fee(CORE, at(17, 8), at(17, 10), free_windows=[(at(17, 9), naive)])


def test_bad_free_windows_are_refused():
    with pytest.raises(ValueError, match=r"free_windows\[0\]: ends before it starts"):
        fee(CORE, at(17, 8), at(17, 10), free_windows=[(at(17, 9, 30), at(17, 9))])
    with pytest.raises(ValueError, match=r"free_windows\[0\]"):
        fee(CORE, at(17, 8), at(17, 10), free_windows=[at(17, 9)])


def test_unknown_vehicle_class_is_refused():
    with pytest.raises(ValueError, match="vehicle_class"):
        fee(HOSPITAL, at(17, 9), at(17, 11), "large")


def test_overlapping_bands_are_refused():
    _assert_refused(_core(_set_band(1, start="08:30")), "small.bands[1]")


def test_wrap_around_overlap_is_refused():
    rules = one_band("22:00", "02:00")
    rules["small"]["bands"].append({"start": "01:00", "end": "03:00", "ladder": [
        {"after_minutes": 0, "unit_minutes": 60, "unit_fen": 100}]})
    _assert_refused(rules, "small.bands[1]")
    rules["small"]["bands"][1].update(start="23:00", end="01:00")  # both wrap
    _assert_refused(rules, "small.bands[1]")
    rules["small"]["bands"][1].update(start="02:00", end="22:00")  # touching at both ends is fine
    validate_rules(rules)


def test_all_day_band_overlaps_any_other():
    rules = one_band("00:00", "24:00")
    rules["small"]["bands"].append({"start": "10:00", "end": "11:00", "ladder": [
        {"after_minutes": 0, "unit_minutes": 60, "unit_fen": 100}]})
    _assert_refused(rules, "small.bands[1]")


def test_band_with_start_equal_to_end_is_refused():
    _assert_refused(_core(_set_band(0, start="09:00", end="09:00")), "small.bands[0].end")
    _assert_refused(one_band("00:00", "00:00"), "small.bands[0].end")
    validate_rules(one_band("00:00", "24:00"))


def test_ladder_must_start_at_zero():
    _assert_refused(_core(lambda s: s["bands"][1]["ladder"][0].update(after_minutes=10)),
                    "small.bands[1].ladder[0].after_minutes")


def test_ladder_after_minutes_must_increase():
    _assert_refused(_core(lambda s: s["bands"][1]["ladder"][1].update(after_minutes=0)),
                    "small.bands[1].ladder[1].after_minutes")
    rules = copy.deepcopy(HOSPITAL)
    rules["small"]["bands"][0]["ladder"][2]["after_minutes"] = 100  # 0, 120, 100: decreasing
    _assert_refused(rules, "small.bands[0].ladder[2].after_minutes")
    assert "must increase" in _message(rules)


def _message(rules) -> str:
    with pytest.raises(TariffError) as info:
        validate_rules(rules)
    return str(info.value)


def test_unit_of_zero_minutes_is_refused():
    _assert_refused(_core(lambda s: s["bands"][0]["ladder"][0].update(unit_minutes=0)),
                    "small.bands[0].ladder[0].unit_minutes")
    rules = copy.deepcopy(HOSPITAL)
    rules["small"]["overnight"]["unit_minutes"] = 0
    _assert_refused(rules, "small.overnight.unit_minutes")


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda s: s["bands"][0]["ladder"][0].update(unit_fen=-1), "small.bands[0].ladder[0].unit_fen"),
    (lambda s: s["bands"][2].update(cap_fen=-100), "small.bands[2].cap_fen"),
    (lambda s: s.update(daily_cap_fen=-1), "small.daily_cap_fen"),
    (lambda s: s.update(free_minutes=-5), "small.free_minutes"),
    (lambda s: s["new_energy"].update(discount_percent=-10), "small.new_energy.discount_percent"),
    (lambda s: s["new_energy"].update(discount_percent=101), "small.new_energy.discount_percent"),
    (lambda s: s.update(overnight={"entry_after": "20:00", "exit_before": "07:00", "unit_minutes": 60,
                                   "unit_fen": -100}), "small.overnight.unit_fen"),
])
def test_negative_or_out_of_range_numbers_are_refused(mutate, field):
    _assert_refused(_core(mutate), field)


@pytest.mark.parametrize("value", [2.5, "500", True, None, 5e2])
def test_money_must_be_an_integer(value):
    rules = _core(lambda s: s["bands"][0]["ladder"][0].update(unit_fen=value))
    _assert_refused(rules, "small.bands[0].ladder[0].unit_fen")


@pytest.mark.parametrize("value", ["7:00", "07:60", "25:00", "0700", 700, None, "07:00:00"])
def test_malformed_times_are_refused(value):
    _assert_refused(_core(_set_band(0, start=value)), "small.bands[0].start")


def test_24_00_only_as_an_end():
    _assert_refused(_core(_set_band(0, start="24:00")), "small.bands[0].start")
    rules = copy.deepcopy(HOSPITAL)
    rules["small"]["overnight"]["entry_after"] = "24:00"
    _assert_refused(rules, "small.overnight.entry_after")


def test_same_as_must_name_a_class_with_its_own_rules():
    missing = copy.deepcopy(CORE)
    missing["large"]["same_as"] = "medium"
    with pytest.raises(TariffError) as info:
        validate_rules(missing)
    assert info.value.field == "large.same_as"
    chained = copy.deepcopy(CORE)
    chained["bus"] = {"same_as": "large", "multiplier": 3}
    with pytest.raises(TariffError) as info:
        validate_rules(chained)
    assert info.value.field == "bus.same_as"
    # compute_fee refuses it even for a class that is fine itself
    with pytest.raises(ValueError, match=r"bus\.same_as"):
        fee(chained, at(17, 9), at(17, 10))
    selfish = {"small": {"same_as": "small"}}
    with pytest.raises(TariffError, match=r"small\.same_as"):
        validate_rules(selfish)


def test_same_as_class_takes_nothing_else():
    rules = copy.deepcopy(CORE)
    rules["large"]["free_minutes"] = 10
    with pytest.raises(TariffError) as info:
        validate_rules(rules)
    assert info.value.field == "large.free_minutes"
    rules = copy.deepcopy(CORE)
    rules["large"]["multiplier"] = -2
    with pytest.raises(TariffError, match=r"^large\.multiplier: must not be negative"):
        validate_rules(rules)


def test_unknown_and_missing_fields_are_named():
    _assert_refused(_core(lambda s: s.update(daily_cap=100)), "small.daily_cap")
    _assert_refused(_core(lambda s: s["bands"][0].pop("ladder")), "small.bands[0].ladder")
    _assert_refused(_core(lambda s: s["bands"][0].update(ladder=[])), "small.bands[0].ladder")
    _assert_refused(_core(lambda s: s["bands"][0]["ladder"][0].pop("unit_fen")), "small.bands[0].ladder[0].unit_fen")
    _assert_refused(_core(lambda s: s.pop("bands")), "small.bands")


def test_ladder_step_beyond_24_hours_is_refused():
    # It could never be in force, since elapsed time restarts every 24 hours.
    _assert_refused(_core(lambda s: s["bands"][1]["ladder"][1].update(after_minutes=1440)),
                    "small.bands[1].ladder[1].after_minutes")


def test_whole_tariff_shape_is_checked():
    for bad in ([], {}, "x", None):
        with pytest.raises(TariffError):
            validate_rules(bad)
    with pytest.raises(TariffError) as info:
        validate_rules({"small": []})
    assert info.value.field == "small"


def test_error_message_names_the_field_path():
    rules = copy.deepcopy(HOSPITAL)
    rules["small"]["bands"][0]["ladder"][1]["after_minutes"] = 0
    assert _message(rules) == "small.bands[0].ladder[1].after_minutes: must increase"


def test_validate_rules_returns_none_for_the_spec_examples():
    assert validate_rules(CORE) is None
    assert validate_rules(HOSPITAL) is None


# ---------------------------------------------------------------------------------------------------
# The fixture file


@functools.cache
def _fixture() -> list[dict]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_fixture_rule_sets_all_validate():
    entries = _fixture()
    keys = [e["key"] for e in entries]
    assert len(keys) == len(set(keys))
    for entry in entries:
        assert set(entry) == {"key", "name", "kind", "zone_class", "road_class", "source", "is_demo", "rules"}
        assert entry["kind"] in {"on_street", "off_street", "hospital"}
        assert entry["zone_class"] in {"core", "center", "outer", None}
        assert entry["road_class"] in {"arterial", "branch", None}
        assert isinstance(entry["is_demo"], bool)
        assert entry["source"]
        if entry["is_demo"]:
            assert entry["source"].startswith("演示值")  # the notes are Chinese: staff read them
        validate_rules(entry["rules"])


def test_fixture_has_every_on_street_combination_and_the_spec_examples():
    entries = {e["key"]: e for e in _fixture()}
    combos = {(e["zone_class"], e["road_class"]) for e in entries.values() if e["kind"] == "on_street"}
    assert combos == {(z, r) for z in ("core", "center", "outer") for r in ("arterial", "branch")}
    core = next(e for e in entries.values() if (e["zone_class"], e["road_class"]) == ("core", "arterial"))
    assert core["rules"] == CORE
    hospital = [e for e in entries.values() if e["kind"] == "hospital"]
    # The pilot hospital's small-car rules are SPEC §6's example; large vehicles pay double (demo value).
    assert [h["rules"]["small"] for h in hospital] == [HOSPITAL["small"]]
    assert [h["rules"]["large"] for h in hospital] == [{"same_as": "small", "multiplier": 2}]
    assert sum(e["kind"] == "off_street" for e in entries.values()) >= 2


def test_on_street_tariffs_get_cheaper_outward_and_on_branch_roads():
    on_street = {(e["zone_class"], e["road_class"]): e["rules"] for e in _fixture() if e["kind"] == "on_street"}
    stays = [(at(17, 8), at(17, 10)), (at(17, 9), at(17, 17)), (at(17, 17), at(17, 20)), (at(17, 7), at(17, 21))]

    def cost(key):
        return [fee(on_street[key], a, b) for a, b in stays]

    for road in ("arterial", "branch"):
        assert all(x >= y >= z for x, y, z in
                   zip(cost(("core", road)), cost(("center", road)), cost(("outer", road)), strict=True))
    for zone in ("core", "center", "outer"):
        assert all(a >= b for a, b in zip(cost((zone, "arterial")), cost((zone, "branch")), strict=True))
    for rules in on_street.values():
        assert fee(rules, at(17, 20), at(18, 7)) == 0  # free nights
        assert fee(rules, at(17, 9), at(17, 9, 30)) == 0  # 30 free minutes
        assert fee(rules, at(17, 9), at(17, 12), "large") == 2 * fee(rules, at(17, 9), at(17, 12))


# ---------------------------------------------------------------------------------------------------
# Speed: boundary by boundary, not minute by minute


def test_a_thirty_day_stay_is_fast():
    one_minute_units = one_band("00:00", "24:00", unit=1, fen=1, daily_cap_fen=1000)
    rule_sets = [CORE, HOSPITAL, one_minute_units] + [e["rules"] for e in _fixture()]
    windows = [(at(d, 16), at(d, 17)) for d in range(1, 31)]
    started = time.perf_counter()
    for rules in rule_sets:
        fee(rules, at(1, 8, 13, 7), at(31, 9, 1, 2), free_windows=windows)
    per_call = (time.perf_counter() - started) / len(rule_sets)
    assert per_call < 0.02, f"{per_call * 1000:.1f} ms per 30-day stay"
    # 30 days × 1000 fen (one-minute units, capped daily) + the last part day 08:13:07–09:01:02
    # minus its 16:00–17:00 windows (none in that last part): 30 × 1000 + 48 = 30048
    assert fee(one_minute_units, at(1, 8, 13, 7), at(31, 9, 1, 2)) == 30 * 1000 + 48


# ---------------------------------------------------------------------------------------------------
# Properties over random valid tariffs


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def ladders(draw):
    count = draw(st.integers(1, 4))
    afters = [0, *sorted(draw(st.sets(st.integers(1, 1439), min_size=count - 1, max_size=count - 1)))]
    units = st.one_of(st.sampled_from([15, 30, 60, 90, 120]), st.integers(1, 300))
    return [{"after_minutes": a, "unit_minutes": draw(units), "unit_fen": draw(st.integers(0, 1000))}
            for a in afters]


@st.composite
def tariffs(draw):
    bands = []
    if draw(st.integers(0, 4)) == 0:
        bands.append({"start": "00:00", "end": "24:00", "ladder": draw(ladders())})
    else:
        points = sorted(draw(st.sets(st.integers(0, 1439), min_size=1, max_size=6)))
        spans = list(zip(points, points[1:] + points[:1], strict=True))
        for start, end in spans:
            if start == end or not draw(st.booleans()):
                continue  # a single point would make an empty band; leave gaps at random
            end_text = "24:00" if end == 0 and draw(st.booleans()) else _hhmm(end)
            bands.append({"start": _hhmm(start), "end": end_text, "ladder": draw(ladders())})
        bands = draw(st.permutations(bands))
    for band in bands:
        if draw(st.booleans()):
            band["cap_fen"] = draw(st.integers(0, 5000))
    small = {"free_minutes": draw(st.integers(0, 120)), "bands": list(bands)}
    if draw(st.booleans()):
        small["daily_cap_fen"] = draw(st.integers(0, 10000))
    if draw(st.booleans()):
        after, before = draw(st.lists(st.integers(0, 1439), min_size=2, max_size=2, unique=True))
        small["overnight"] = {"entry_after": _hhmm(after), "exit_before": _hhmm(before),
                              "unit_minutes": draw(st.integers(1, 120)), "unit_fen": draw(st.integers(0, 500))}
        if draw(st.booleans()):
            small["overnight"]["cap_fen"] = draw(st.integers(0, 3000))
    if draw(st.booleans()):
        ne = {}
        if draw(st.booleans()):
            ne["free_minutes"] = draw(st.integers(0, 240))
        if draw(st.booleans()):
            ne["discount_percent"] = draw(st.integers(0, 100))
        small["new_energy"] = ne
    return {"small": small, "large": {"same_as": "small", "multiplier": draw(st.integers(0, 3))}}


# Minutes since the epoch, 2025–2026 (after 1991 Shanghai is a fixed UTC+8, which the reference relies on).
START_2025 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) // 60
entry_minutes = st.integers(START_2025, START_2025 + 2 * 365 * 1440)
durations = st.one_of(st.integers(0, 240), st.integers(0, 3 * 1440))
# FEE_EXAMPLES=3000 for a deeper run; the default keeps the file well under 20 s.
PROPERTY = settings(
    max_examples=int(os.environ.get("FEE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _dt(minute: int, second: int = 0) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=minute, seconds=second)


@st.composite
def window_lists(draw, entry: int, duration: int):
    windows = []
    for _ in range(draw(st.integers(0, 3))):
        start = entry + draw(st.integers(-120, duration + 120))
        windows.append((start, start + draw(st.integers(0, 600))))
    return windows


def _reference(rules, vehicle_class, entry, exit, new_energy=False, windows=()):
    """SPEC §6 walked minute by minute with whole-minute times: slow, simple, independent of the engine."""
    body, k = rules[vehicle_class], 1
    if "same_as" in body:
        body, k = rules[body["same_as"]], body.get("multiplier", 1)
    ne = body.get("new_energy") or {}
    free = ne["free_minutes"] if new_energy and ne.get("free_minutes") is not None else body.get("free_minutes", 0)
    if exit - entry <= free:
        return 0

    def minutes(text):
        return int(text[:2]) * 60 + int(text[3:])

    where = [None] * 1440  # minute of day → (band number, 0 or −1 for the wrapped part's occurrence day)
    for i, band in enumerate(body["bands"]):
        start, end = minutes(band["start"]), minutes(band["end"])
        for m in range(1440):
            if (start < end and start <= m < end) or (end <= start and m >= start):
                where[m] = (i, 0)
            elif end <= start and m < end:
                where[m] = (i, -1)

    def bands_total(windows):
        band_used, day_used = {}, {}
        total, unit = 0, None
        for m in range(entry, exit):
            local = m + 480
            hit = where[local % 1440]
            if hit is None or any(a <= m < b for a, b in windows):
                unit = None
                continue
            band = body["bands"][hit[0]]
            occurrence = (hit[0], local // 1440 + hit[1])
            day, elapsed = divmod(m - entry, 1440)
            step = max(j for j, s in enumerate(band["ladder"]) if s["after_minutes"] <= elapsed)
            if (unit is None or m >= unit["start"] + unit["length"] or unit["occurrence"] != occurrence
                    or unit["day"] != day or unit["step"] != step):
                price = band["ladder"][step]["unit_fen"]
                unit = {"start": m, "length": band["ladder"][step]["unit_minutes"], "occurrence": occurrence,
                        "day": day, "step": step}
                if band.get("cap_fen") is not None:
                    price = min(price, band["cap_fen"] - band_used.get(occurrence, 0))
                if body.get("daily_cap_fen") is not None:
                    price = min(price, body["daily_cap_fen"] - day_used.get(day, 0))
                band_used[occurrence] = band_used.get(occurrence, 0) + price
                day_used[day] = day_used.get(day, 0) + price
                total += price
                assert band.get("cap_fen") is None or band_used[occurrence] <= band["cap_fen"]
                assert body.get("daily_cap_fen") is None or day_used[day] <= body["daily_cap_fen"]
        return total

    # Rule 2: the windows cut units, but never to a higher price than no window at all.
    total = min(bands_total(windows), bands_total(()))
    night = body.get("overnight")
    if night:
        after, before = minutes(night["entry_after"]), minutes(night["exit_before"])
        day, tod = divmod(entry + 480, 1440)
        end = None
        if after < before and after <= tod < before:
            end = day * 1440 + before
        elif before < after and tod >= after:
            end = (day + 1) * 1440 + before
        elif before < after and tod < before:
            end = day * 1440 + before
        if end is not None and exit + 480 < end:
            charge = -(-(exit - entry) // night["unit_minutes"]) * night["unit_fen"]
            if night.get("cap_fen") is not None:
                charge = min(charge, night["cap_fen"])
            total = min(total, charge)
    total *= k
    if new_energy and ne.get("discount_percent"):
        total = total * (100 - ne["discount_percent"]) // 100
    return total


@PROPERTY
@given(data=st.data(), rules=tariffs(), entry=entry_minutes, duration=durations,
       vehicle_class=st.sampled_from(["small", "large"]), new_energy=st.booleans())
def test_engine_matches_a_minute_by_minute_reference(data, rules, entry, duration, vehicle_class, new_energy):
    windows = data.draw(window_lists(entry, duration))
    expected = _reference(rules, vehicle_class, entry, entry + duration, new_energy, windows)
    got = compute_fee(rules, vehicle_class=vehicle_class, entry=_dt(entry), exit=_dt(entry + duration),
                      new_energy=new_energy, free_windows=[(_dt(a), _dt(b)) for a, b in windows])
    assert got == expected


@PROPERTY
@given(data=st.data(), rules=tariffs(), entry=entry_minutes, entry_second=st.integers(0, 59),
       shorter=st.integers(0, 4 * 86400), extra=st.integers(0, 2 * 86400),
       vehicle_class=st.sampled_from(["small", "large"]), new_energy=st.booleans())
def test_longer_stay_never_costs_less(data, rules, entry, entry_second, shorter, extra, vehicle_class, new_energy):
    windows = [(_dt(a), _dt(b)) for a, b in data.draw(window_lists(entry, shorter // 60))]
    start = _dt(entry, entry_second)

    def cost(seconds):
        return compute_fee(rules, vehicle_class=vehicle_class, entry=start, exit=start + timedelta(seconds=seconds),
                           new_energy=new_energy, free_windows=windows)

    short, long = cost(shorter), cost(shorter + extra)
    assert isinstance(short, int)
    assert 0 <= short <= long


@PROPERTY
@given(entry=entry_minutes, entry_second=st.integers(0, 59), shorter=st.integers(0, 3 * 86400),
       extra=st.integers(0, 86400), key=st.sampled_from(sorted(e["key"] for e in _fixture())),
       vehicle_class=st.sampled_from(["small", "large"]), new_energy=st.booleans())
def test_fixture_tariffs_are_monotone(entry, entry_second, shorter, extra, key, vehicle_class, new_energy):
    rules = next(e["rules"] for e in _fixture() if e["key"] == key)
    if vehicle_class not in rules:
        vehicle_class = "small"
    start = _dt(entry, entry_second)
    short = fee(rules, start, start + timedelta(seconds=shorter), vehicle_class, new_energy=new_energy)
    long = fee(rules, start, start + timedelta(seconds=shorter + extra), vehicle_class, new_energy=new_energy)
    assert type(short) is int
    assert 0 <= short <= long


@PROPERTY
@given(rules=tariffs(), entry=entry_minutes, entry_second=st.integers(0, 59), seconds=st.integers(0, 5 * 86400))
def test_same_as_class_costs_multiplier_times_its_base(rules, entry, entry_second, seconds):
    start = _dt(entry, entry_second)
    end = start + timedelta(seconds=seconds)
    assert fee(rules, start, end, "large") == rules["large"]["multiplier"] * fee(rules, start, end)


@PROPERTY
@given(rules=tariffs(), entry=entry_minutes, entry_second=st.integers(0, 59), seconds=st.integers(1, 5 * 86400))
def test_daily_cap_holds_for_every_24_hours_from_entry(rules, entry, entry_second, seconds):
    daily_cap = rules["small"].get("daily_cap_fen")
    start = _dt(entry, entry_second)
    days = -(-seconds // 86400)
    for n in range(1, days + 1):
        cost = fee(rules, start, start + timedelta(seconds=min(seconds, n * 86400)))
        if daily_cap is not None:
            assert cost <= n * daily_cap


@PROPERTY
@given(rules=tariffs(), entry=entry_minutes, duration=st.integers(0, 3 * 1440))
def test_band_caps_hold_per_occurrence(rules, entry, duration):
    # Only capped bands: then a stay costs at most the sum of the caps of the occurrences it touches.
    bands = rules["small"]["bands"]
    for band in bands:
        band.setdefault("cap_fen", 300)
    touched = set()
    for m in range(entry, entry + duration):
        local = m + 480
        day, tod = divmod(local, 1440)
        for i, band in enumerate(bands):
            start = int(band["start"][:2]) * 60 + int(band["start"][3:])
            end = int(band["end"][:2]) * 60 + int(band["end"][3:])
            if start < end and start <= tod < end:
                touched.add((i, day))
            elif end <= start and (tod >= start or tod < end):
                touched.add((i, day if tod >= start else day - 1))
    limit = sum(bands[i]["cap_fen"] for i, _ in touched)
    assert fee(rules, _dt(entry), _dt(entry + duration)) <= limit


def _boundaries(rules, entry: int, exit: int) -> list[int]:
    """Times (minutes) where every unit is cut anyway: band occurrence edges and 24-hour marks."""
    points = {entry + 1440 * n for n in range((exit - entry) // 1440 + 1)}
    first_day = (entry + 480) // 1440 - 1
    for band in rules["small"]["bands"]:
        start = int(band["start"][:2]) * 60 + int(band["start"][3:])
        end = int(band["end"][:2]) * 60 + int(band["end"][3:])
        if end <= start:
            end += 1440
        for day in range(first_day, (exit + 480) // 1440 + 1):
            points.update({day * 1440 + start - 480, day * 1440 + end - 480})
    return sorted(p for p in points if entry <= p <= exit)


@PROPERTY
@given(data=st.data(), rules=tariffs(), entry=entry_minutes, duration=st.integers(0, 3 * 1440),
       vehicle_class=st.sampled_from(["small", "large"]), new_energy=st.booleans())
def test_free_windows_on_unit_boundaries_never_add_cost(data, rules, entry, duration, vehicle_class, new_energy):
    # A window that starts and ends where units are cut anyway (or outside the stay) only removes units.
    # (One that starts or ends inside a unit can add a unit: see test_free_window_mid_unit_costs_an_extra_unit…)
    exit = entry + duration
    points = [entry - 60, exit + 60, *_boundaries(rules, entry, exit)]
    windows = []
    for _ in range(data.draw(st.integers(1, 3))):
        a, b = sorted(data.draw(st.lists(st.sampled_from(points), min_size=2, max_size=2)))
        windows.append((_dt(a), _dt(b)))
    kwargs = {"vehicle_class": vehicle_class, "entry": _dt(entry), "exit": _dt(exit), "new_energy": new_energy}
    without = compute_fee(rules, **kwargs)
    fewer = compute_fee(rules, free_windows=windows[:1], **kwargs)
    more = compute_fee(rules, free_windows=windows, **kwargs)
    assert 0 <= more <= fewer <= without


@st.composite
def second_windows(draw, start: datetime, seconds: int):
    """Free windows anywhere around a stay, to the second: on unit boundaries or not, overlapping or not."""
    windows = []
    for _ in range(draw(st.integers(1, 4))):
        begin = start + timedelta(seconds=draw(st.integers(-7200, seconds + 7200)))
        windows.append((begin, begin + timedelta(seconds=draw(st.integers(0, 12 * 3600)))))
    return windows


@PROPERTY
@given(data=st.data(), rules=tariffs(), entry=entry_minutes, entry_second=st.integers(0, 59),
       seconds=st.integers(0, 3 * 86400), vehicle_class=st.sampled_from(["small", "large"]),
       new_energy=st.booleans())
def test_free_windows_never_make_a_stay_dearer(data, rules, entry, entry_second, seconds, vehicle_class, new_energy):
    # SPEC §6 rule 2 (revised), for arbitrary windows, not only those on unit boundaries.
    start = _dt(entry, entry_second)
    kwargs = {"vehicle_class": vehicle_class, "entry": start, "exit": start + timedelta(seconds=seconds),
              "new_energy": new_energy}
    windows = data.draw(second_windows(start, seconds))
    assert 0 <= compute_fee(rules, free_windows=windows, **kwargs) <= compute_fee(rules, **kwargs)


@PROPERTY
@given(data=st.data(), rules=tariffs(), entry=entry_minutes, entry_second=st.integers(0, 59),
       shorter=st.integers(0, 3 * 86400), extra=st.integers(0, 86400),
       vehicle_class=st.sampled_from(["small", "large"]), new_energy=st.booleans())
def test_longer_stay_never_costs_less_with_arbitrary_windows(data, rules, entry, entry_second, shorter, extra,
                                                             vehicle_class, new_energy):
    # Rule 8 under rule 2's minimum: windows to the second, also ones the shorter stay ends inside.
    start = _dt(entry, entry_second)
    windows = data.draw(second_windows(start, shorter + extra))

    def cost(seconds):
        return compute_fee(rules, vehicle_class=vehicle_class, entry=start, exit=start + timedelta(seconds=seconds),
                           new_energy=new_energy, free_windows=windows)

    assert 0 <= cost(shorter) <= cost(shorter + extra)
