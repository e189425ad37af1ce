"""Arrears recovery: reminders escalate by the rules (notice → repeat → masked public list → the
operator's blacklist), staff lift a flag (audited), paying ends it; the public list is masked and
lot systems read the blacklist signed like ingest, for their own lots only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.payments import recovery
from apps.payments.models import ArrearsListing, ArrearsReminder, Blacklist, ReminderRule
from apps.payments.money_errors import BlacklistNotActive, InvalidReason, NotAllowed
from apps.sessions.signing import signed_headers
from tests.factories import DeviceFactory, OperatorFactory
from tests.factories_money import RuleFactory, arrears_of
from tests.factories_payments import Gate, flat_lot

pytestmark = [pytest.mark.django_db, pytest.mark.midday]
Action = ReminderRule.Action
BLACKLIST_PATH = "/api/v1/ingest/blacklist"


@pytest.fixture
def sent(notice_requests):
    return notice_requests


@pytest.fixture
def rules():
    return {
        "notice": RuleFactory(action=Action.NOTICE, after_days=1),
        "repeat": RuleFactory(action=Action.REPEAT, after_days=7, repeat_days=7),
        "public": RuleFactory(action=Action.PUBLIC_LIST, after_days=30, min_owed_fen=500),
        "blacklist": RuleFactory(action=Action.BLACKLIST, after_days=60),
    }


def test_reminders_escalate_with_age_and_are_sent_once_per_step(rules, sent):
    gate = Gate(flat_lot())
    arrears = arrears_of(gate, "苏B12345", days_ago=2)
    assert recovery.reminders_run()["notices"] == 1
    assert recovery.reminders_run()["notices"] == 0  # the same debts are not reminded twice
    assert [r.kind for r in sent] == ["arrears_reminder"] and sent[0].plate == "苏B12345"
    assert sent[0].data["owed_fen"] == 600
    later = timezone.now() + timedelta(days=6)
    assert recovery.reminders_run(now=later)["notices"] == 1  # 8 days old: the repeat step
    assert recovery.reminders_run(now=later + timedelta(days=3))["notices"] == 0
    assert recovery.reminders_run(now=later + timedelta(days=7))["notices"] == 1  # repeated after 7 days
    counts = recovery.reminders_run(now=timezone.now() + timedelta(days=29))
    assert counts["listed"] == 1 and not Blacklist.objects.exists()
    counts = recovery.reminders_run(now=timezone.now() + timedelta(days=59))
    flag = Blacklist.objects.get()
    assert counts["blacklisted"] == 1 and flag.operator == arrears.lot.operator and flag.state == "active"
    # one notice; repeats at 8, 15, 31 and 61 days (each 7 or more days after the last)
    assert ArrearsReminder.objects.filter(plate="苏B12345").count() == 5


def test_a_rule_for_a_district_covers_only_its_lots_and_a_minimum_holds(city, rules, sent):
    from apps.regions.models import Region

    RuleFactory(action=Action.PUBLIC_LIST, after_days=1, region=Region.objects.get(code="320211"))
    arrears_of(Gate(flat_lot()), "苏B12345", days_ago=40, minutes=30)  # 梁溪, 200 fen: under the 500 minimum
    assert recovery.reminders_run()["listed"] == 0


def test_paying_takes_the_plate_off_the_list_and_clears_the_flag(rules, sent):
    arrears = arrears_of(Gate(flat_lot()), "苏B12345", days_ago=70)
    recovery.reminders_run()
    assert ArrearsListing.objects.filter(ended_at__isnull=True).count() == 1
    from apps.sessions.services import arrears_apply_payment

    arrears_apply_payment(arrears_id=arrears.pk, amount_fen=600, reason="sandbox", reference="PAID-1")
    counts = recovery.reminders_run()
    assert counts["unlisted"] == 1 and counts["cleared"] == 1
    assert Blacklist.objects.get().state == "cleared"


def test_staff_lift_a_flag_with_a_reason_and_only_new_arrears_raise_it_again(rules, sent, staff_factory):
    gate = Gate(flat_lot())
    arrears_of(gate, "苏B12345", days_ago=70)
    recovery.reminders_run()
    flag = Blacklist.objects.get()
    outsider = staff_factory("operator", OperatorFactory())
    with pytest.raises(NotAllowed):
        recovery.blacklist_lift(blacklist=flag, actor=outsider, reason="x")
    officer = staff_factory("operator", flag.operator)
    with pytest.raises(InvalidReason):
        recovery.blacklist_lift(blacklist=flag, actor=officer, reason=" ")
    recovery.blacklist_lift(blacklist=flag, actor=officer, reason="车主已签分期还款")
    with pytest.raises(BlacklistNotActive):
        recovery.blacklist_lift(blacklist=flag, actor=officer, reason="again")
    entry = AuditEntry.objects.get(action="blacklist.lifted")
    assert entry.actor == officer and entry.changes["state"] == ["active", "lifted"]
    assert recovery.reminders_run()["blacklisted"] == 0  # the lift holds for the debts it was lifted over
    newer = arrears_of(gate, "苏B12345", days_ago=0)
    assert recovery.reminders_run(now=newer.created_at + timedelta(days=1))["blacklisted"] == 1


def test_the_public_list_is_masked(api_client, rules, sent):
    arrears_of(Gate(flat_lot()), "苏B12345", days_ago=31)
    arrears_of(Gate(flat_lot()), "苏B12345", days_ago=3)
    arrears_of(Gate(flat_lot()), "苏B99999", days_ago=3)  # too young to be listed
    recovery.reminders_run()
    response = api_client.get("/api/v1/arrears/public")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1
    assert body["results"] == [{"plate": "苏B***45", "owed_fen": 1200, "arrears_count": 2,
                                "since": (timezone.localdate() - timedelta(days=31)).isoformat()}]
    assert "12345" not in response.content.decode()
    assert api_client.get("/api/v1/arrears/public?page_size=0").status_code == 400
    assert api_client.get("/api/v1/arrears/public?plate=x").status_code == 400  # no such parameter


def _signed_get(client, device, secret, query: str):
    headers = signed_headers(device.access_key, secret, "GET", BLACKLIST_PATH, b"")
    return client.get(f"{BLACKLIST_PATH}?{query}", headers=headers)


def test_lot_systems_read_their_operators_blacklist_signed(client, rules, sent):
    lot = flat_lot()
    other = flat_lot()
    device, secret = DeviceFactory.issue(lots=[lot])
    arrears = arrears_of(Gate(lot), "苏B12345", days_ago=70)
    recovery.reminders_run()
    response = _signed_get(client, device, secret, f"lot={lot.code}")
    assert response.status_code == 200, response.content
    assert [(p["plate"], p["owed_fen"]) for p in response.json()["plates"]] == [("苏B12345", 600)]
    one = _signed_get(client, device, secret, f"lot={lot.code}&plate=苏B54321")
    assert one.json()["plates"] == []
    denied = _signed_get(client, device, secret, f"lot={other.code}")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "lot_not_allowed")
    unsigned = client.get(f"{BLACKLIST_PATH}?lot={lot.code}")
    assert unsigned.status_code == 401
    from apps.sessions.services import arrears_apply_payment

    arrears_apply_payment(arrears_id=arrears.pk, amount_fen=600, reason="sandbox", reference="PAID-1")
    assert _signed_get(client, device, secret, f"lot={lot.code}").json()["plates"] == []  # paid: at once


def test_a_plates_arrears_across_the_city(city):
    from apps.regions.models import Region

    a = arrears_of(Gate(flat_lot()), "苏B12345", days_ago=5)
    b = arrears_of(Gate(flat_lot(region=Region.objects.get(code="320211"))), "苏B12345", days_ago=9)
    arrears_of(Gate(flat_lot()), "苏B99999")
    found = list(recovery.plate_arrears("苏B12345"))
    assert [x.pk for x in found] == [b.pk, a.pk] and [x.owed_fen for x in found] == [600, 600]


def test_arrears_paid_at_another_lots_code_record_where_they_were_collected(api_client, city):
    from apps.common import citizens
    from apps.payments.models import Order
    from tests.factories import UserFactory

    owed = arrears_of(Gate(flat_lot()), "苏B12345")
    elsewhere = flat_lot(region=city["320211"])
    user = UserFactory()
    citizens.register_bound_plates(lambda u: ["苏B12345"])
    try:
        api_client.force_authenticate(user)
        body = {"arrears_ids": [owed.pk], "channel": "sandbox", "lot": "NO-SUCH-LOT"}
        response = api_client.post("/api/v1/payments/orders", body, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
        assert not Order.objects.exists()
        body["lot"] = elsewhere.code.lower()
        response = api_client.post("/api/v1/payments/orders", body, format="json")
    finally:
        citizens.register_bound_plates(None)
    assert response.status_code == 201, response.content
    assert Order.objects.get().lot == elsewhere


def test_reminders_read_the_arrears_a_chunk_of_plates_at_a_time(rules, sent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    gate = Gate(flat_lot())
    plates = ["苏B10001", "苏B10002", "苏B10003", "苏B10004", "苏B10005"]
    for plate in plates:
        arrears_of(gate, plate, days_ago=2)
    with CaptureQueriesContext(connection) as queries:
        counts = recovery.reminders_run(chunk_plates=2)
    assert counts["notices"] == 5 and sorted(r.plate for r in sent) == plates  # none lost at a chunk's edge
    reminder_reads = [q for q in queries.captured_queries
                      if q["sql"].lstrip().upper().startswith("SELECT") and "payments_arrearsreminder" in q["sql"]]
    assert len(reminder_reads) == 3  # one a chunk of 2, 2 and 1 plates, not one a plate
    assert recovery.reminders_run(chunk_plates=2)["notices"] == 0  # and each chunk knows what was sent
