"""Sessions from entries and exits (SPEC §3.2): fees, every release_reason, late and out-of-order
events, ticket-only vehicles. Through ``events_record`` with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from apps.lots.models import FreeWindow, ParkingLot
from apps.sessions import release
from apps.sessions.models import Arrears, ParkingSession
from apps.sessions.services import events_record
from tests.factories import DeviceFactory, LotFactory, TariffFactory
from tests.factories_sessions import AFTERNOON, SessionFactory, entry_event, exit_event

pytestmark = pytest.mark.django_db

NOW = AFTERNOON
State = ParkingSession.State


def at(hour: int, minute: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


def _exit_session(body, index=-1):
    return body["results"][index]["session"]


def _free(lot) -> int:
    return ParkingLot.objects.get(pk=lot.pk).free_berths


def test_entry_opens_a_session_and_takes_a_berth(record, lot):
    record(entry_event(lot, "苏B·12345", at=at(10), plate_color="blue", gate="东门"))
    session = ParkingSession.objects.get()
    assert (session.plate, session.state, session.entry_at) == ("苏B12345", State.OPEN, at(10))
    assert session.plate_color == "blue" and not session.new_energy
    assert _free(lot) == 49


def test_unpaid_exit_keeps_the_barrier_shut(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 30))))
    # 09:00–17:00 band: the first hour 2 × 3 yuan, then 4 yuan a half hour.
    assert session["amount_fen"] == 1000
    assert (session["paid_fen"], session["due_fen"]) == (0, 1000)
    assert (session["release"], session["release_reason"]) == (False, "unpaid")
    assert ParkingSession.objects.get().state == State.AWAITING_PAYMENT
    assert _free(lot) == 49  # the car is still at the barrier


def test_after_paying_the_same_plate_exits_again_and_is_released(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    record(exit_event(lot, "苏B12345", at=at(11, 30)))
    ParkingSession.objects.update(paid_fen=1000)  # what the payments service will do
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 50))))
    assert (session["release"], session["release_reason"]) == (True, "paid")
    # The amount was fixed at the first exit, although the car left twenty minutes later.
    assert (session["amount_fen"], session["due_fen"]) == (1000, 0)
    assert session["exit_at"] == at(11, 30).isoformat()
    stored = ParkingSession.objects.get()
    assert stored.state == State.CLOSED and stored.closed_at == at(11, 50)
    assert _free(lot) == 50


def test_exiting_again_without_paying_is_still_unpaid(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    first = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 30))))
    again = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 40))))
    assert again == first
    assert _free(lot) == 49


def test_a_session_paid_in_advance_is_released_as_paid(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    ParkingSession.objects.update(paid_fen=1000)
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 30))))
    assert (session["release"], session["release_reason"], session["due_fen"]) == (True, "paid", 0)


def test_a_short_stay_is_free(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(10, 25))))
    assert (session["amount_fen"], session["release"], session["release_reason"]) == (0, True, "free")
    assert _free(lot) == 50


def test_pay_later_lot_releases_and_records_arrears(record, lot):
    ParkingLot.objects.filter(pk=lot.pk).update(allow_pay_later=True)
    record(entry_event(lot, "苏B12345", at=at(10)))
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 30))))
    assert (session["release"], session["release_reason"], session["due_fen"]) == (True, "pay_later", 1000)
    arrears = Arrears.objects.get()
    assert (arrears.plate, arrears.amount_fen, arrears.lot_id, arrears.paid_at) == ("苏B12345", 1000, lot.pk, None)
    assert arrears.session_id == session["session_id"]
    assert ParkingSession.objects.get().state == State.CLOSED


def test_pay_later_with_nothing_due_is_just_free(record, lot):
    ParkingLot.objects.filter(pk=lot.pk).update(allow_pay_later=True)
    record(entry_event(lot, "苏B12345", at=at(10)))
    assert _exit_session(record(exit_event(lot, "苏B12345", at=at(10, 10))))["release_reason"] == "free"
    assert not Arrears.objects.exists()


def test_an_exit_without_an_entry_is_released_for_review(record, lot):
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11))))
    assert session["entry_at"] is None
    assert (session["amount_fen"], session["release"], session["release_reason"]) == (0, True, "review")
    assert ParkingSession.objects.get().state == State.REVIEW
    assert _free(lot) == 51


def test_a_late_entry_completes_the_exit_seen_first(record, lot):
    exit_body = record(exit_event(lot, "苏B12345", at=at(11, 30)))
    record(entry_event(lot, "苏B12345", at=at(10)))
    session = ParkingSession.objects.get()
    assert session.pk == _exit_session(exit_body)["session_id"]
    assert (session.entry_at, session.exit_at, session.state) == (at(10), at(11, 30), State.REVIEW)
    assert session.amount_fen == 0  # nothing charged by guess; staff review it
    assert _free(lot) == 50  # the car came and went


def test_an_entry_for_a_plate_already_inside_supersedes_the_old_session(record, lot):
    record(entry_event(lot, "苏B12345", at=at(9)))
    record(entry_event(lot, "苏B12345", at=at(10)))
    old, new = ParkingSession.objects.order_by("entry_at")
    assert (old.state, old.closed_at) == (State.SUPERSEDED, at(10))
    assert new.state == State.OPEN
    assert _free(lot) == 49  # the car left unseen and came back: one car inside
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 30))))
    assert session["session_id"] == new.pk and session["amount_fen"] == 1000


def test_an_entry_older_than_the_open_one_is_an_earlier_visit(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    record(entry_event(lot, "苏B12345", at=at(8)))
    earlier, current = ParkingSession.objects.order_by("entry_at")
    assert (earlier.entry_at, earlier.state) == (at(8), State.SUPERSEDED)
    assert (current.entry_at, current.state) == (at(10), State.OPEN)
    assert _free(lot) == 49


def test_an_exit_older_than_the_open_entry_leaves_the_open_session_alone(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(9, 30))))
    assert session["release_reason"] == "review"
    assert ParkingSession.objects.get(entry_at=at(10)).state == State.OPEN
    assert _free(lot) == 49


def test_events_in_one_batch_are_applied_in_the_order_they_happened(record, lot):
    body = record(exit_event(lot, "苏B12345", at=at(11, 30)), entry_event(lot, "苏B12345", at=at(10)))
    session = _exit_session(body, index=0)
    assert (session["entry_at"], session["amount_fen"]) == (at(10).isoformat(), 1000)
    assert ParkingSession.objects.count() == 1
    assert _free(lot) == 50 - 1  # unpaid: still at the barrier


def test_a_car_that_leaves_an_unpaid_exit_and_returns_owes_arrears(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    record(exit_event(lot, "苏B12345", at=at(11, 30)))
    record(entry_event(lot, "苏B12345", at=at(12)))
    old, new = ParkingSession.objects.order_by("entry_at")
    assert (old.state, old.release_reason, old.due_fen) == (State.CLOSED, "unpaid", 1000)
    assert Arrears.objects.get().session == old
    assert new.state == State.OPEN
    assert _free(lot) == 49


def test_ticket_only_vehicles_are_matched_by_ticket(record, lot):
    record(entry_event(lot, None, ticket_id="T-0001", at=at(10)))
    record(entry_event(lot, None, ticket_id="T-0002", at=at(10)))
    session = _exit_session(record(exit_event(lot, None, ticket_id="T-0001", at=at(11, 30))))
    stored = ParkingSession.objects.get(pk=session["session_id"])
    assert (stored.plate, stored.ticket_id, session["amount_fen"]) == (None, "T-0001", 1000)
    assert ParkingSession.objects.get(ticket_id="T-0002").state == State.OPEN


def test_an_exit_that_reads_the_plate_finds_a_ticket_only_entry(record, lot):
    record(entry_event(lot, None, ticket_id="T-0001", at=at(10)))
    session = _exit_session(record(exit_event(lot, "苏B12345", ticket_id="T-0001", at=at(11, 30))))
    assert session["entry_at"] == at(10).isoformat()


def test_ticket_only_vehicles_cannot_leave_first_and_pay_later(record, lot):
    ParkingLot.objects.filter(pk=lot.pk).update(allow_pay_later=True)
    record(entry_event(lot, None, ticket_id="T-0001", at=at(10)))
    session = _exit_session(record(exit_event(lot, None, ticket_id="T-0001", at=at(11, 30))))
    assert (session["release"], session["release_reason"]) == (False, "unpaid")


def test_new_energy_plates_use_the_new_energy_rules(record, lot):
    record(entry_event(lot, "苏BD12345", at=at(10), plate_color="blue"))  # the plate decides, not the colour
    session = _exit_session(record(exit_event(lot, "苏BD12345", at=at(13))))
    # 3 h: 600 + 4 × 400 = 2200, half off for new energy.
    assert session["amount_fen"] == 1100
    assert ParkingSession.objects.get().new_energy


def test_a_green_plate_colour_marks_new_energy_without_a_readable_plate(record, lot):
    record(entry_event(lot, None, ticket_id="T-9", plate_color="green", at=at(10)))
    assert ParkingSession.objects.get().new_energy
    assert _exit_session(record(exit_event(lot, None, ticket_id="T-9", at=at(11, 30))))["amount_fen"] == 0


def test_a_large_vehicle_pays_double(record, lot):
    record(entry_event(lot, "苏B12345", vehicle_class="large", at=at(10)))
    assert _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 30))))["amount_fen"] == 2000


def test_the_exit_may_correct_the_vehicle_class(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    assert _exit_session(record(exit_event(lot, "苏B12345", vehicle_class="large", at=at(11, 30))))[
        "amount_fen"] == 2000


def test_free_windows_are_not_charged(record, lot):
    FreeWindow.objects.create(name="节假日", starts_at=at(0), ends_at=at(23), lot=lot)
    record(entry_event(lot, "苏B12345", at=at(10)))
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11, 30))))
    assert (session["amount_fen"], session["release_reason"]) == (0, "free")


def test_a_lot_without_a_tariff_charges_nothing(record, lot):
    ParkingLot.objects.filter(pk=lot.pk).update(tariff=None)
    record(entry_event(lot, "苏B12345", at=at(10)))
    assert _exit_session(record(exit_event(lot, "苏B12345", at=at(13))))["release_reason"] == "free"


def test_a_stay_the_tariff_cannot_price_goes_to_review(record, lot, caplog):
    """The entry is known but our data can't price the stay: the barrier opens, nothing is charged by
    guess, and the session waits in review for staff (release_reason "review": SPEC's only reason
    that says so)."""
    small_only = TariffFactory(rules={"small": {"free_minutes": 0, "bands": []}})
    ParkingLot.objects.filter(pk=lot.pk).update(tariff=small_only)
    record(entry_event(lot, "苏B12345", vehicle_class="large", at=at(10)))
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11))))
    assert (session["release"], session["release_reason"], session["entry_at"]) == (True, "review",
                                                                                    at(10).isoformat())
    assert (session["amount_fen"], session["due_fen"]) == (0, 0)
    stored = ParkingSession.objects.get()
    assert (stored.state, stored.closed_at, stored.exit_at) == (State.REVIEW, at(11), at(11))
    assert not Arrears.objects.exists()
    assert _free(lot) == 50
    assert any("vehicle_class" in record.getMessage() for record in caplog.records if record.levelname == "WARNING")


def test_a_stored_tariff_the_engine_refuses_sends_the_exit_to_review(record, lot):
    from apps.lots.models import Tariff

    record(entry_event(lot, "苏B12345", at=at(10)))
    Tariff.objects.filter(pk=lot.tariff_id).update(rules={"small": {"bands": "none"}})  # past Tariff.save
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(11))))
    assert (session["release"], session["release_reason"], session["amount_fen"]) == (True, "review", 0)
    assert ParkingSession.objects.get().state == State.REVIEW


def test_a_stay_longer_than_a_year_is_not_priced_by_guess(record, lot):
    from apps.lots.selectors import MAX_PRICED_STAY

    SessionFactory(lot=lot, plate="苏B12345", entry_at=NOW - MAX_PRICED_STAY - timedelta(minutes=1))
    SessionFactory(lot=lot, plate="苏B54321", entry_at=NOW - MAX_PRICED_STAY + timedelta(hours=1))
    long_stay, year = (_exit_session(record(exit_event(lot, plate, at=NOW))) for plate in ("苏B12345", "苏B54321"))
    assert (long_stay["release"], long_stay["release_reason"], long_stay["amount_fen"]) == (True, "review", 0)
    assert ParkingSession.objects.get(plate="苏B12345").state == State.REVIEW
    assert (year["release"], year["release_reason"]) == (False, "unpaid") and year["amount_fen"] > 0


def test_an_amount_past_the_money_columns_is_not_stored(record, lot):
    """An absurd tariff must not fail the batch (PostgreSQL: integer out of range) nor bill it."""
    from apps.lots.selectors import MAX_AMOUNT_FEN

    absurd = TariffFactory(rules={"small": {"free_minutes": 0, "bands": [
        {"start": "00:00", "end": "24:00", "ladder": [{"after_minutes": 0, "unit_minutes": 1, "unit_fen": 10**9}]}]}})
    ParkingLot.objects.filter(pk=lot.pk).update(tariff=absurd)
    record(entry_event(lot, "苏B12345", at=at(10)), entry_event(lot, "苏B54321", at=at(10)))
    body = record(exit_event(lot, "苏B12345", at=at(10, 3)), exit_event(lot, "苏B54321", at=at(10, 2)))
    too_much, most = (result["session"] for result in body["results"])
    assert 3 * 10**9 > MAX_AMOUNT_FEN >= 2 * 10**9
    assert (too_much["release"], too_much["release_reason"], too_much["amount_fen"]) == (True, "review", 0)
    assert (most["release_reason"], most["amount_fen"]) == ("unpaid", 2 * 10**9)
    assert ParkingSession.objects.get(plate="苏B54321").amount_fen == 2 * 10**9


def test_an_exit_is_priced_as_the_quote_prices_it(record, lot, api_client):
    FreeWindow.objects.create(name="午间免费", starts_at=at(12), ends_at=at(13), lot=lot)
    record(entry_event(lot, "苏B12345", at=at(9, 40)))
    session = _exit_session(record(exit_event(lot, "苏B12345", at=at(13, 50))))
    quote = api_client.get("/api/v1/fees/quote", {"lot": lot.code, "entry": at(9, 40).isoformat(),
                                                  "exit": at(13, 50).isoformat()}).json()
    assert session["amount_fen"] == quote["amount_fen"] > 0


def test_sessions_are_per_lot(device, lot):
    other = LotFactory()
    both = DeviceFactory.issue(lots=[lot, other])[0]
    events_record(device=both, events=[entry_event(lot, "苏B12345", at=at(10))], now=NOW)
    body = events_record(device=both, events=[exit_event(other, "苏B12345", at=at(11))], now=NOW).as_dict()
    assert _exit_session(body)["release_reason"] == "review"
    assert ParkingSession.objects.get(lot=lot).state == State.OPEN


# -- the release rule on its own -------------------------------------------------------------------

RESERVED = release.Cover(release.Reason.RESERVATION, release.WAIVE, "hospital_visit")
SHARED = release.Cover(release.Reason.SHARING_CONTRACT, release.ARREARS, "sharing_contract_bills_monthly")
AGREED = release.Cover(release.Reason.PAY_LATER, release.ARREARS, "payment_agreement")


def _decide(**overrides):
    args = {"amount_fen": 500, "due_fen": 500, "entry_known": True, "cover": None, "lot_allows_pay_later": False}
    args.update(overrides)
    return release.decide_release(**args)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, (False, "unpaid", None)),
    ({"entry_known": False}, (True, "review", None)),
    ({"amount_fen": 0, "due_fen": 0}, (True, "free", None)),
    ({"due_fen": 0}, (True, "paid", None)),
    ({"due_fen": 1}, (False, "unpaid", None)),
    ({"cover": RESERVED}, (True, "reservation", RESERVED)),
    ({"cover": SHARED}, (True, "sharing_contract", SHARED)),
    ({"cover": AGREED}, (True, "pay_later", AGREED)),
    ({"lot_allows_pay_later": True}, (True, "pay_later", release.Cover("pay_later", "arrears",
                                                                       "lot_allows_pay_later"))),
    ({"cover": RESERVED, "lot_allows_pay_later": True}, (True, "reservation", RESERVED)),
    ({"due_fen": 0, "cover": RESERVED}, (True, "paid", None)),
    ({"amount_fen": 0, "due_fen": 0, "entry_known": False}, (True, "review", None)),
])
def test_decide_release(overrides, expected):
    decision = _decide(**overrides)
    assert (decision.release, decision.reason, decision.cover) == expected


@pytest.mark.parametrize(("reason", "due"), [
    ("pay_later", "waive"),  # a payment agreement defers the due; it never forgives it
    ("reservation", "drop"),  # what is due is waived or owed, never just gone
    ("paid", "waive"),  # providers release for their own reasons only
    ("unpaid", "arrears"),
])
def test_a_cover_that_would_lose_the_due_is_refused(reason, due):
    with pytest.raises(ValueError):
        release.Cover(reason, due, "some_rule")


def test_a_cover_must_state_its_rule():
    with pytest.raises(ValueError):
        release.Cover("reservation", "waive", "")


def test_with_no_provider_registered_no_exit_is_covered(monkeypatch):
    monkeypatch.setattr(release, "_providers", {})  # the apps register their own when ready
    assert release.release_providers() == []
    assert release.covers_at_exit([release.ExitQuery(1, "苏B12345", NOW)]) == {}


def test_free_windows_for_many_lots_match_the_one_lot_selector(city):
    from apps.lots.selectors import free_windows_by_lot, free_windows_for

    lx, bh = LotFactory(region=city["320213"]), LotFactory(region=city["320211"])
    lx2 = LotFactory(region=city["320213"])
    FreeWindow.objects.create(name="全市", starts_at=at(8), ends_at=at(9))
    FreeWindow.objects.create(name="梁溪", starts_at=at(9), ends_at=at(10), region=city["320213"])
    FreeWindow.objects.create(name="滨湖", starts_at=at(10), ends_at=at(11), region=city["320211"])
    FreeWindow.objects.create(name="本场", starts_at=at(11), ends_at=at(12), lot=lx)
    FreeWindow.objects.create(name="范围外", starts_at=at(1), ends_at=at(2))
    start, end = at(7), at(13)
    batched = free_windows_by_lot(lots=[lx, bh, lx2], start=start, end=end)
    assert batched == {
        lx.pk: [(at(8), at(9)), (at(9), at(10)), (at(11), at(12))],
        bh.pk: [(at(8), at(9)), (at(10), at(11))],
        lx2.pk: [(at(8), at(9)), (at(9), at(10))],
    }
    for lot in (lx, bh, lx2):
        assert free_windows_for(lot=lot, start=start, end=end) == batched[lot.pk]
    assert free_windows_by_lot(lots=[], start=start, end=end) == {}
