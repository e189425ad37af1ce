"""The lot card's tariff wording. No Django: runs with ``-p no:django``."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from apps.lots.fees import TariffError
from apps.lots.tariff_text import (
    describe_rules,
    describe_rules_en,
    describe_rules_in,
    describe_tariff,
    describe_tariff_en,
    describe_tariff_in,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "tariffs" / "wuxi.json"
TARIFFS = {e["key"]: e["rules"] for e in json.loads(FIXTURE.read_text(encoding="utf-8"))}
CORE = TARIFFS["on_street_core_arterial"]
HOSPITAL = TARIFFS["hospital_pilot"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Stands in for tests/conftest.py's cache fixture: this module needs no Django, nor a cache."""
    yield


def test_core_arterial_in_chinese():
    text = describe_rules(CORE)
    assert text.split("；") == [
        "30分钟内免费，超时自入场起计费",
        "07:00-09:00 每半小时5元",
        "09:00-17:00 首小时每半小时3元，之后每半小时4元",
        "17:00-20:00 每半小时5元，最高20元",
        "20:00-07:00 免费",
        "计费时长自入场起算，每满24小时重新起算",
        "新能源车120分钟内免费，超时半价",
    ]


def test_large_class_shows_multiplied_amounts():
    text = describe_rules(CORE, "large")
    assert text.startswith("按小型车标准的2倍收费")
    assert "07:00-09:00 每半小时10元" in text
    assert "17:00-20:00 每半小时10元，最高40元" in text
    assert "30分钟内免费" in text  # the base's free minutes apply unchanged


def test_hospital_in_chinese():
    text = describe_rules(HOSPITAL)
    assert "60分钟内免费" in text
    assert "全天 首2小时2元，2至4小时每小时2元，4至7小时每小时3元，7小时后每小时5元" in text
    assert "自入场起每24小时最高40元" in text
    assert "夜间20:00至次日07:00入场且07:00前离场的，每小时1元，最高5元" in text


def test_yuan_shows_decimals_only_when_needed():
    rules = copy.deepcopy(CORE)
    rules["small"]["bands"][0]["ladder"][0]["unit_fen"] = 250
    rules["small"]["bands"][1]["ladder"][0]["unit_fen"] = 205
    rules["small"]["bands"][1]["ladder"][1]["unit_fen"] = 0
    text = describe_rules(rules)
    assert "07:00-09:00 每半小时2.5元" in text
    assert "首小时每半小时2.05元，之后免费" in text
    assert "5元" in text and "5.0元" not in text


def test_gaps_between_bands_are_free_and_all_day_is_named():
    rules = {"small": {"free_minutes": 0, "bands": [
        {"start": "22:00", "end": "02:00", "ladder": [{"after_minutes": 0, "unit_minutes": 60, "unit_fen": 100}]},
        {"start": "08:00", "end": "12:00", "ladder": [{"after_minutes": 0, "unit_minutes": 15, "unit_fen": 100}]},
    ]}}
    assert describe_rules(rules).split("；") == [
        "无免费时段", "08:00-12:00 每15分钟1元", "12:00-22:00 免费", "22:00-02:00 每小时1元", "02:00-08:00 免费",
    ]
    assert describe_rules({"small": {"bands": []}}) == "无免费时段；全天免费"
    all_day = {"small": {"bands": [
        {"start": "00:00", "end": "24:00", "ladder": [{"after_minutes": 0, "unit_minutes": 120, "unit_fen": 300}]}]}}
    assert describe_rules(all_day) == "无免费时段；全天 每2小时3元"


def test_discounts_in_chinese_fold_wording():
    rules = copy.deepcopy(CORE)
    rules["small"]["new_energy"] = {"discount_percent": 20}
    assert describe_rules(rules).endswith("新能源车8折")
    rules["small"]["new_energy"] = {"discount_percent": 25}
    assert describe_rules(rules).endswith("新能源车7.5折")
    rules["small"]["new_energy"] = {"free_minutes": 60}
    assert describe_rules(rules).endswith("新能源车60分钟内免费")


def test_english():
    text = describe_rules_en(CORE)
    assert "07:00–09:00 ¥5 per 30 min" in text
    assert "09:00–17:00 first hour ¥3 per 30 min, after 1 hour ¥4 per 30 min" in text
    assert "at most ¥20" in text
    assert "20:00–07:00 free" in text
    assert "new-energy vehicles: free for stays up to 120 min, 50% off" in text
    assert "at most ¥40 per 24 hours from entry" in describe_rules_en(HOSPITAL)


def test_every_fixture_tariff_can_be_described():
    for rules in TARIFFS.values():
        for vehicle_class in rules:
            assert describe_rules(rules, vehicle_class)
            assert describe_rules_en(rules, vehicle_class)


def test_invalid_rules_are_refused_not_described():
    rules = copy.deepcopy(CORE)
    rules["small"]["bands"][1]["start"] = "08:00"
    with pytest.raises(TariffError, match=r"^small\.bands\[1\]"):
        describe_rules(rules)
    with pytest.raises(ValueError, match="vehicle_class"):
        describe_rules(HOSPITAL, "bus")


def test_describe_rules_in_picks_the_language():
    assert describe_rules_in("en", CORE) == describe_rules_en(CORE)
    assert describe_rules_in("en-us", CORE, "large") == describe_rules_en(CORE, "large")
    assert describe_rules_in("zh-hans", CORE) == describe_rules(CORE)
    assert describe_rules_in(None, CORE) == describe_rules(CORE)


# --- the whole tariff, as the lot card shows it ----------------------------------------------------


def test_the_card_names_the_large_vehicle_multiplier():
    text = describe_tariff(CORE)
    small, large = text.split("。")
    assert small == describe_rules(CORE)
    assert large == "大型车按小型车的2倍收费"
    english = describe_tariff_en(CORE)
    assert english == describe_rules_en(CORE) + ". Large vehicles pay 2× the rate for small vehicles"


def test_a_large_class_with_rules_of_its_own_is_described_as_such():
    rules = copy.deepcopy(CORE)
    rules["large"] = {"free_minutes": 15, "bands": [
        {"start": "00:00", "end": "24:00", "ladder": [{"after_minutes": 0, "unit_minutes": 60, "unit_fen": 1000}]}]}
    text = describe_tariff(rules)
    assert text.startswith(describe_rules(rules) + "。")
    assert text.endswith("。大型车另有收费标准：15分钟内免费，超时自入场起计费；全天 每小时10元")
    english = describe_tariff_en(rules)
    assert english.endswith(". Large vehicles have their own rates: free for stays up to 15 min, "
                            "longer stays are charged from entry; all day ¥10 per hour")


def test_other_multipliers_and_equal_rates():
    rules = copy.deepcopy(CORE)
    rules["large"]["multiplier"] = 1.5
    assert describe_tariff(rules).endswith("。大型车按小型车的1.5倍收费")
    assert describe_tariff_en(rules).endswith(". Large vehicles pay 1.5× the rate for small vehicles")
    rules["large"] = {"same_as": "small", "multiplier": 1}
    assert describe_tariff(rules).endswith("。大型车与小型车收费相同")
    assert describe_tariff_en(rules).endswith(". Large vehicles pay the same as small vehicles")


def test_a_tariff_with_one_class_reads_as_that_class_alone():
    small_only = {"small": CORE["small"]}
    assert describe_tariff(small_only) == describe_rules(small_only)
    large_only = {"large": CORE["small"]}
    assert describe_tariff(large_only) == describe_rules(large_only, "large")


def test_describe_tariff_in_picks_the_language():
    assert describe_tariff_in("en-gb", HOSPITAL) == describe_tariff_en(HOSPITAL)
    assert describe_tariff_in("zh-hans", HOSPITAL) == describe_tariff(HOSPITAL)
    assert describe_tariff_in(None, HOSPITAL).endswith("。大型车按小型车的2倍收费")
    with pytest.raises(TariffError):
        describe_tariff({"large": {"same_as": "small", "multiplier": 2}})
