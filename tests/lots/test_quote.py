"""The fee quote (SPEC §4 ``fees/quote``): the engine of §6 with the lot's tariff and free windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.lots.fees import compute_fee
from apps.lots.models import FreeWindow, Tariff
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
     "vehicle_class", "invalid"),
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


@pytest.mark.parametrize(("entry", "exit"), [
    ("0001-01-01T00:00:00+08:00", "0001-01-01T01:00:00+08:00"),  # before year 1 in UTC
    ("9999-12-31T20:00:00-08:00", "9999-12-31T21:00:00-08:00"),  # after year 9999 in UTC
    ("0001-01-01T08:00:00+08:00", "0001-01-01T09:00:00+08:00"),  # in range, but its local day -1 is not
    ("9999-12-31T10:00:00+08:00", "9999-12-31T11:00:00+08:00"),  # the engine looks at the next local day
])
def test_times_at_the_ends_of_the_calendar_are_400_not_500(api_client, lot, entry, exit):
    error = _error(_quote(api_client, entry=entry, exit=exit), 400, "invalid", "entry")
    assert error["message"]


def test_an_amount_past_what_can_be_recorded_is_409(api_client, city):
    absurd = TariffFactory(rules={"small": {"free_minutes": 0, "bands": [
        {"start": "00:00", "end": "24:00", "ladder": [{"after_minutes": 0, "unit_minutes": 1, "unit_fen": 10**9}]}]}})
    LotFactory(code="Q-DEAR", tariff=absurd)
    params = {"lot": "Q-DEAR", "entry": "2026-03-17T10:00:00+08:00"}
    assert _amount(_quote(api_client, **params, exit="2026-03-17T10:02:00+08:00")) == 2 * 10**9
    error = _error(_quote(api_client, **params, exit="2026-03-17T10:03:00+08:00"), 409, "amount_out_of_range", "lot")
    assert error["details"]["max_amount_fen"] == 2**31 - 1


# -- the pricing selector on its own (the quote and every exit at a barrier use it) ----------------

def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


def test_fee_for_stay_prices_with_the_tariff_and_the_free_windows(lot):
    from apps.lots.selectors import fee_for_stay

    assert fee_for_stay(lot=lot, entry=_at(17, 10), exit=_at(17, 11), vehicle_class="small") == 600
    FreeWindow.objects.create(name="本场", starts_at=_at(17, 10), ends_at=_at(17, 10, 30), lot=lot)
    assert fee_for_stay(lot=lot, entry=_at(17, 10), exit=_at(17, 11), vehicle_class="small") == 300
    # Windows a caller read in bulk are used as given.
    assert fee_for_stay(lot=lot, entry=_at(17, 10), exit=_at(17, 11), vehicle_class="small", free_windows=[]) == 600
    assert fee_for_stay(lot=lot, entry=_at(17, 10), exit=_at(17, 11), vehicle_class="large", new_energy=True) == 0


@pytest.mark.parametrize(("kwargs", "error", "field"), [
    ({"exit": _at(17, 9)}, "StayNotPriceable", "exit"),
    ({"exit": _at(17, 10) + timedelta(days=366, seconds=1)}, "StayNotPriceable", "exit"),
    ({"vehicle_class": "bus"}, "StayNotPriceable", "vehicle_class"),
    ({"entry": datetime(1, 1, 1, 8, tzinfo=SHANGHAI), "exit": datetime(1, 1, 1, 9, tzinfo=SHANGHAI)},
     "StayNotPriceable", "entry"),
])
def test_fee_for_stay_names_what_it_cannot_price(lot, kwargs, error, field):
    from apps.lots import selectors

    args = {"lot": lot, "entry": _at(17, 10), "exit": _at(17, 11), "vehicle_class": "small", **kwargs}
    with pytest.raises(getattr(selectors, error)) as raised:
        selectors.fee_for_stay(**args)
    assert (raised.value.status, raised.value.code, raised.value.field) == (400, "invalid", field)


def test_fee_for_stay_without_a_tariff_is_no_tariff(city):
    from apps.lots.selectors import NoTariff, fee_for_stay

    with pytest.raises(NoTariff) as raised:
        fee_for_stay(lot=LotFactory(tariff=None), entry=_at(17, 10), exit=_at(17, 11), vehicle_class="small")
    assert (raised.value.status, raised.value.code) == (409, "no_tariff")


def test_a_stored_tariff_the_engine_refuses_is_409_invalid_tariff(api_client, lot):
    # Saved past Tariff.save's check (a bulk update): the quote says so instead of failing.
    Tariff.objects.filter(pk=lot.tariff_id).update(rules={"small": {"bands": "none"}})
    error = _error(_quote(api_client, entry="2026-03-17T10:00:00+08:00", exit="2026-03-17T11:00:00+08:00"),
                   409, "invalid_tariff", "lot")
    assert "small.bands" in error["message"]
