"""The fee quote (SPEC §4 ``fees/quote``): the engine of §6 with the lot's tariff and free windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.lots.fees import compute_fee
from apps.lots.models import FreeWindow
from tests.factories import CORE_ARTERIAL_RULES, LotFactory, TariffFactory

pytestmark = pytest.mark.django_db

QUOTE = "/api/v1/fees/quote"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _quote(api_client, **params):
    params.setdefault("lot", "Q-1")
    return api_client.get(QUOTE, params)


def _amount(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"amount_fen"}
    return body["amount_fen"]


def _error(response, status, code, field):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["details"]["field"] == field
    return error


@pytest.fixture
def lot(city):
    return LotFactory(code="Q-1", region=city["320213"])


def test_one_hour_in_the_day_band(api_client, lot):
    # 10:00–11:00: two half hours at 3 元 (the first hour's step).
    response = _quote(api_client, entry="2026-03-17T10:00:00+08:00", exit="2026-03-17T11:00:00+08:00")
    assert _amount(response) == 600


@pytest.mark.parametrize(("entry", "exit", "vehicle_class", "new_energy"), [
    ("2026-03-17T08:10:00+08:00", "2026-03-17T19:45:00+08:00", "small", False),
    ("2026-03-17T08:10:00+08:00", "2026-03-17T19:45:00+08:00", "large", False),
    ("2026-03-17T08:10:00+08:00", "2026-03-18T09:05:00+08:00", "small", True),
    ("2026-03-17T00:10:00Z", "2026-03-17T03:00:00Z", "large", True),
    ("2026-03-17T10:00:00+08:00", "2026-03-17T10:25:00+08:00", "small", False),
])
def test_amount_is_what_the_engine_computes(api_client, lot, entry, exit, vehicle_class, new_energy):
    expected = compute_fee(CORE_ARTERIAL_RULES, vehicle_class=vehicle_class, entry=datetime.fromisoformat(entry),
                           exit=datetime.fromisoformat(exit), new_energy=new_energy)
    response = _quote(api_client, entry=entry, exit=exit, vehicle_class=vehicle_class,
                      new_energy=str(new_energy).lower())
    assert _amount(response) == expected


def test_defaults_are_small_and_not_new_energy(api_client, lot):
    # 90 minutes: free for a new-energy car (120 free minutes), charged for an ordinary one.
    params = {"entry": "2026-03-17T10:00:00+08:00", "exit": "2026-03-17T11:30:00+08:00"}
    assert _amount(_quote(api_client, **params)) == 300 + 300 + 400
    assert _amount(_quote(api_client, **params, new_energy="true")) == 0
    assert _amount(_quote(api_client, **params, vehicle_class="large")) == 2 * (300 + 300 + 400)


def test_free_windows_of_the_city_region_and_lot_apply(api_client, lot, city):
    params = {"entry": "2026-03-17T10:00:00+08:00", "exit": "2026-03-17T11:00:00+08:00"}
    start = datetime(2026, 3, 17, 10, 0, tzinfo=SHANGHAI)
    other = FreeWindow.objects.create(name="滨湖区活动", starts_at=start, ends_at=start + timedelta(hours=2),
                                      region=city["320211"])
    assert _amount(_quote(api_client, **params)) == 600
    FreeWindow.objects.create(name="梁溪区节日", starts_at=start, ends_at=start + timedelta(minutes=30),
                              region=city["320213"])
    # Charging starts after the window: 10:30–11:00 is a unit of the first hour's step.
    assert _amount(_quote(api_client, **params)) == 300
    other.delete()
    FreeWindow.objects.create(name="全市免费", starts_at=start, ends_at=start + timedelta(hours=1))
    assert _amount(_quote(api_client, **params)) == 0


def test_a_plus_sent_unencoded_in_the_query_string_is_understood(api_client, lot):
    response = api_client.get(f"{QUOTE}?lot=Q-1&entry=2026-03-17T10:00:00+08:00&exit=2026-03-17T11:00:00+08:00")
    assert _amount(response) == 600


def test_lot_code_in_lower_case(api_client, lot):
    assert _amount(_quote(api_client, lot="q-1", entry="2026-03-17T10:00:00+08:00",
                          exit="2026-03-17T11:00:00+08:00")) == 600


@pytest.mark.parametrize("field", ["entry", "exit"])
def test_a_time_without_offset_is_rejected(api_client, lot, field):
    params = {"entry": "2026-03-17T10:00:00+08:00", "exit": "2026-03-17T11:00:00+08:00"}
    params[field] = "2026-03-17T10:30:00"
    _error(_quote(api_client, **params), 400, "naive_datetime", field)


@pytest.mark.parametrize(("params", "field", "code"), [
    ({"entry": "yesterday", "exit": "2026-03-17T11:00:00+08:00"}, "entry", "invalid"),
    ({"exit": "2026-03-17T11:00:00+08:00"}, "entry", "invalid"),
    ({"entry": "2026-03-17T11:00:00+08:00"}, "exit", "invalid"),
    ({"entry": "2026-03-17T11:00:00+08:00", "exit": "2026-03-17T10:59:59+08:00"}, "exit", "invalid"),
    ({"entry": "2026-03-17T11:00:00+08:00", "exit": "2027-03-19T11:00:00+08:00"}, "exit", "invalid"),
    ({"entry": "2026-03-17T10:00:00+08:00", "exit": "2026-03-17T11:00:00+08:00", "vehicle_class": "bus"},
     "vehicle_class", "invalid_choice"),
    ({"entry": "2026-03-17T10:00:00+08:00", "exit": "2026-03-17T11:00:00+08:00", "new_energy": "maybe"},
     "new_energy", "invalid"),
    ({"entry": "2026-03-17T10:00:00+08:00", "exit": "2026-03-17T11:00:00+08:00", "lot": "no such lot"},
     "lot", "invalid"),
])
def test_bad_input_is_400_naming_the_parameter(api_client, lot, params, field, code):
    _error(_quote(api_client, **params), 400, code, field)


def test_exit_equal_to_entry_is_free(api_client, lot):
    assert _amount(_quote(api_client, entry="2026-03-17T10:00:00+08:00", exit="2026-03-17T10:00:00+08:00")) == 0


def test_unknown_lot_is_404(api_client, lot):
    error = _error(_quote(api_client, lot="NOPE", entry="2026-03-17T10:00:00+08:00",
                          exit="2026-03-17T11:00:00+08:00"), 404, "not_found", "lot")
    assert "NOPE" in error["message"]


def test_lot_without_tariff_is_409_no_tariff(api_client, city):
    LotFactory(code="Q-FREE", tariff=None)
    _error(_quote(api_client, lot="Q-FREE", entry="2026-03-17T10:00:00+08:00", exit="2026-03-17T11:00:00+08:00"),
           409, "no_tariff", "lot")


def test_tariff_without_rules_for_the_class_is_400(api_client, city):
    LotFactory(code="Q-SMALL", tariff=TariffFactory(rules={"small": CORE_ARTERIAL_RULES["small"]}))
    _error(_quote(api_client, lot="Q-SMALL", entry="2026-03-17T10:00:00+08:00", exit="2026-03-17T11:00:00+08:00",
                  vehicle_class="large"), 400, "invalid", "vehicle_class")
