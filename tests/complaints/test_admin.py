"""The hotline in the admin: the call-taker logs a phone complaint and the district office it lands
at sees it with its deadline; a 滨湖 officer never sees a 梁溪 ticket (list, search, export, by id,
history, the plate look-up); an operator's staff work only tickets sent to them; the work form
moves a ticket only as the workflow allows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.complaints import services
from apps.complaints.models import DispatchRule, Ticket, Unit
from apps.regions.models import Region
from apps.sessions.models import ParkingSession
from tests.factories import LotFactory, OperatorFactory
from tests.factories_complaints import PHONE, category, make_ticket

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:complaints_ticket_changelist"


@pytest.fixture
def liangxi_lot(city):
    return LotFactory(region=Region.objects.get(code="320213"), name="崇安寺地下停车场", code="LX-9001")


@pytest.fixture
def binhu_lot(city):
    return LotFactory(region=Region.objects.get(code="320211"), name="蠡湖公园停车场", code="BH-9001")


@pytest.fixture
def binhu_officer(staff_factory):
    return staff_factory("region", "320211")


def _change_url(ticket):
    return reverse("admin:complaints_ticket_change", args=[ticket.pk])


def test_a_call_taker_logs_a_phone_complaint_and_the_district_office_sees_its_deadline(
        client, staff_factory, liangxi_lot, officer, django_capture_on_commit_callbacks):
    call_taker = staff_factory("city")
    client.force_login(call_taker)
    form = client.get(reverse("admin:complaints_ticket_add"))
    assert form.status_code == 200
    html = form.content.decode()
    assert 'name="position_lat"' in html and "complaints/intake.js" in html and 'type="radio"' in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:complaints_ticket_add"), {
            "phone": "139 5555 1234", "caller_name": "李女士", "category": category("equipment_fault").pk,
            "description": "出口道闸不抬杆", "plate": "", "lot": liangxi_lot.pk, "region": "", "address": "",
            "position_lat": "31.58", "position_lon": "120.30", "session": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.phone, ticket.caller_name, ticket.lot) == ("phone", "13955551234", "李女士",
                                                                               liangxi_lot)
    assert ticket.state == "dispatched" and ticket.unit.region.code == "320213"
    assert (ticket.lat, ticket.lon) == (31.58, 120.30)
    assert AuditEntry.objects.get(action="ticket.created").actor == call_taker

    client.force_login(officer)
    listing = client.get(reverse(CHANGELIST))
    text = listing.content.decode()
    assert ticket.ticket_no in text
    assert timezone.localtime(ticket.resolve_by).strftime("%Y年%-m月%-d日") in text


def test_the_intake_form_refuses_a_bad_phone_and_saves_nothing(client, staff_factory, liangxi_lot):
    client.force_login(staff_factory("city"))
    response = client.post(reverse("admin:complaints_ticket_add"), {
        "phone": "12345", "category": category("other").pk, "description": "x", "lot": liangxi_lot.pk})
    assert response.status_code == 200
    assert "手机号码" in response.content.decode()
    assert not Ticket.objects.exists()


def test_an_officer_cannot_log_a_ticket_for_another_region_s_lot(client, binhu_officer, liangxi_lot, binhu_lot):
    client.force_login(binhu_officer)
    response = client.post(reverse("admin:complaints_ticket_add"), {
        "phone": PHONE, "category": category("other").pk, "description": "x", "lot": liangxi_lot.pk})
    assert response.status_code == 200 and not Ticket.objects.exists()
    response = client.post(reverse("admin:complaints_ticket_add"), {
        "phone": PHONE, "category": category("other").pk, "description": "x", "lot": binhu_lot.pk})
    assert response.status_code == 302
    assert Ticket.objects.get().region.code == "320211"


def test_the_plate_look_up_lists_recent_stays_in_scope_only(client, binhu_officer, liangxi_lot, binhu_lot):
    now = timezone.now()
    mine = ParkingSession.objects.create(lot=binhu_lot, plate="苏B12345", entry_at=now - timedelta(hours=2))
    ParkingSession.objects.create(lot=liangxi_lot, plate="苏B12345", entry_at=now - timedelta(hours=1))
    client.force_login(binhu_officer)
    url = reverse("admin:complaints_ticket_lookup")
    body = client.get(url, {"plate": "苏b 12345"}).json()
    assert [row["id"] for row in body["sessions"]] == [mine.pk]
    assert body["sessions"][0]["lot_code"] == "BH-9001"
    assert client.get(url, {"plate": "nope"}).status_code == 400


def test_a_binhu_officer_never_sees_a_liangxi_ticket(client, binhu_officer, liangxi_lot, binhu_lot):
    theirs = make_ticket(lot=liangxi_lot)
    mine = make_ticket(lot=binhu_lot)
    client.force_login(binhu_officer)
    listing = client.get(reverse(CHANGELIST)).content.decode()
    assert mine.ticket_no in listing and theirs.ticket_no not in listing
    search = client.get(reverse(CHANGELIST), {"q": theirs.ticket_no})
    assert search.context["cl"].result_count == 0
    assert client.get(reverse(CHANGELIST), {"q": PHONE}).context["cl"].result_count == 1
    Ticket.objects.filter(pk=mine.pk).update(plate="苏B12345")
    assert client.get(reverse(CHANGELIST), {"q": "苏b·12345"}).context["cl"].result_count == 1
    exported = client.post(reverse(CHANGELIST), {"action": "export_csv", "_selected_action": [theirs.pk, mine.pk]})
    csv_text = exported.content.decode("utf-8-sig")
    assert mine.ticket_no in csv_text and theirs.ticket_no not in csv_text
    by_id = client.get(_change_url(theirs))
    assert by_id.status_code == 302  # the admin's "no such object", as for a deleted one
    assert client.get(reverse("admin:complaints_ticket_history", args=[theirs.pk])).status_code in (302, 403, 404)
    forged = client.post(_change_url(theirs), {"move_to": "in_progress", "note": "越权"})
    assert forged.status_code == 302
    assert Ticket.objects.get(pk=theirs.pk).state == "dispatched"
    units = client.get(reverse("admin:complaints_unit_changelist")).content.decode()
    assert "滨湖区停车管理办公室" in units and "梁溪区停车管理办公室" not in units


def test_dispatch_rules_are_scoped(client, binhu_officer, city):
    binhu, liangxi = Region.objects.get(code="320211"), Region.objects.get(code="320213")
    mine = DispatchRule.objects.create(region=binhu, unit=services.unit_for_region(binhu))
    theirs = DispatchRule.objects.create(region=liangxi, unit=services.unit_for_region(liangxi))
    client.force_login(binhu_officer)
    listing = client.get(reverse("admin:complaints_dispatchrule_changelist"))
    assert list(listing.context["cl"].result_list) == [mine]
    assert client.get(reverse("admin:complaints_dispatchrule_change", args=[theirs.pk])).status_code == 302


def test_an_operator_s_staff_see_their_lots_tickets_and_work_only_those_sent_to_them(client, staff_factory, city):
    operator = OperatorFactory()
    lot = LotFactory(operator=operator)
    sent_to_district = make_ticket(lot=lot)
    other = make_ticket()
    staff = staff_factory("operator", operator)
    client.force_login(staff)
    listing = client.get(reverse(CHANGELIST)).content.decode()
    assert sent_to_district.ticket_no in listing and other.ticket_no not in listing
    page = client.get(_change_url(sent_to_district))
    assert page.status_code == 200 and 'name="move_to"' not in page.content.decode()  # read-only
    services.ticket_reassign(ticket=sent_to_district, unit=services.unit_for_operator(operator), reason="运营方处理",
                             actor=staff_factory("city"))
    page = client.get(_change_url(sent_to_district))
    assert 'name="move_to"' in page.content.decode()


def test_the_work_form_moves_notes_and_reassigns_through_the_services(logged_in, officer, liangxi_lot, city):
    ticket = make_ticket(lot=liangxi_lot)
    page = logged_in.get(_change_url(ticket)).content.decode()
    assert 'value="in_progress"' in page and 'value="rejected"' in page and 'value="resolved"' not in page
    assert PHONE in page  # staff see the caller's phone
    refused = logged_in.post(_change_url(ticket), {"move_to": "resolved", "note": "跳步", "note_public": "on"})
    assert refused.status_code == 200 and Ticket.objects.get(pk=ticket.pk).state == "dispatched"
    missing_reason = logged_in.post(_change_url(ticket), {"move_to": "rejected"})
    assert missing_reason.status_code == 200 and "请选择原因" in missing_reason.content.decode()
    done = logged_in.post(_change_url(ticket), {"move_to": "in_progress", "note": "已派人到场", "note_public": "on"})
    assert done.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "in_progress" and ticket.last_change.note == "已派人到场" and ticket.last_change.public
    assert AuditEntry.objects.filter(action="ticket.in_progress", actor=officer).exists()
    xishan = Unit.objects.get_or_create(region=Region.objects.get(code="320205"),
                                        defaults={"kind": "region", "name": "锡山区停车管理办公室"})[0]
    no_reason = logged_in.post(_change_url(ticket), {"reassign_to": xishan.pk})
    assert no_reason.status_code == 200 and no_reason.context["adminform"].form.errors["reassign_reason"]
    moved = logged_in.post(_change_url(ticket), {"reassign_to": xishan.pk, "reassign_reason": "属锡山区"})
    assert moved.status_code == 302
    ticket.refresh_from_db()
    assert ticket.unit == xishan and ticket.region.code == "320205"
    assert logged_in.get(_change_url(ticket)).status_code == 302  # no longer 梁溪's


def test_the_overdue_filter_and_the_changelist_s_query_count(logged_in, liangxi_lot,
                                                             django_assert_max_num_queries):
    for _ in range(3):
        make_ticket(lot=liangxi_lot)
    late = make_ticket(lot=liangxi_lot)
    Ticket.objects.filter(pk=late.pk).update(resolve_by=timezone.now() - timedelta(hours=1))
    overdue = logged_in.get(reverse(CHANGELIST), {"punctuality": "overdue"})
    assert [t.pk for t in overdue.context["cl"].result_list] == [late.pk]
    with django_assert_max_num_queries(20):
        assert logged_in.get(reverse(CHANGELIST)).status_code == 200
    for _ in range(10):
        make_ticket(lot=liangxi_lot)
    with django_assert_max_num_queries(20):
        assert logged_in.get(reverse(CHANGELIST)).status_code == 200


def test_the_refund_action_appears_only_when_payments_registers_it(logged_in, liangxi_lot):
    from apps.complaints import ports

    make_ticket(lot=liangxi_lot)
    registered = ports.refund_starter()
    assert registered is not None  # payments registers it in its ready()
    ports.register_refund_starter(None)
    try:
        page = logged_in.get(reverse(CHANGELIST)).content.decode()
        assert "start_refund" not in page and "escalate" in page
    finally:
        ports.register_refund_starter(registered)
    assert "start_refund" in logged_in.get(reverse(CHANGELIST)).content.decode()


def test_staff_escalate_by_hand_and_it_is_audited(logged_in, officer, liangxi_lot):
    ticket = make_ticket(lot=liangxi_lot)
    logged_in.post(reverse(CHANGELIST), {"action": "escalate", "_selected_action": [ticket.pk]})
    ticket.refresh_from_db()
    assert ticket.escalation == 2
    assert AuditEntry.objects.get(action="ticket.escalated").actor == officer


def test_city_rules_are_read_by_region_staff_and_changed_only_by_the_city(client, officer, staff_factory):
    fee = category("fee_dispute")
    client.force_login(officer)
    assert client.get(reverse("admin:complaints_category_changelist")).status_code == 200
    page = client.get(reverse("admin:complaints_category_change", args=[fee.pk]))
    assert page.status_code == 200 and 'name="respond_hours"' not in page.content.decode()
    client.post(reverse("admin:complaints_category_change", args=[fee.pk]),
                {"code": "fee_dispute", "name": "改名", "respond_hours": 1, "resolve_working_days": 1,
                 "warn_hours": 1, "city_after_hours": 1, "position": 1, "active": "on"})
    assert category("fee_dispute").name == "收费争议"
    assert client.get(reverse("admin:complaints_open311key_changelist")).status_code == 403
    city_staff = staff_factory("city")
    client.force_login(city_staff)
    response = client.post(reverse("admin:complaints_category_change", args=[fee.pk]), {
        "code": "fee_dispute", "name": "收费争议", "respond_hours": 3, "resolve_working_days": 4, "warn_hours": 12,
        "city_after_hours": 24, "names_12345": "", "position": 1, "active": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert (category("fee_dispute").respond_hours, category("fee_dispute").resolve_working_days) == (3, 4)
    entry = AuditEntry.objects.get(action="category.changed")
    assert entry.actor == city_staff and entry.changes["respond_hours"] == [2, 3]


def test_open311_keys_are_seen_and_revoked_by_city_staff_only(client, officer, staff_factory):
    key, _plain = services.open311_key_issue(name="城市大脑")
    city_staff = staff_factory("city")
    client.force_login(city_staff)
    listing = client.get(reverse("admin:complaints_open311key_changelist"))
    assert "城市大脑" in listing.content.decode()
    client.post(reverse("admin:complaints_open311key_changelist"), {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEntry.objects.get(action="open311_key.revoked").actor == city_staff


def test_the_city_office_imports_the_12345_export_in_the_admin(client, staff_factory, officer, liangxi_lot):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("admin:complaints_ticket_import_12345")
    client.force_login(officer)
    assert client.get(url).status_code == 403
    assert "import-12345" not in client.get(reverse(CHANGELIST)).content.decode()
    city_staff = staff_factory("city")
    client.force_login(city_staff)
    assert "import-12345" in client.get(reverse(CHANGELIST)).content.decode()
    content = ("工单编号,受理时间,诉求类别,诉求内容,来电号码,停车场编码\n"
               f"W-1,2026-03-17 09:00,泊位被占,车位被占了,13800001111,{liangxi_lot.code}\n"
               "W-2,2026-03-17 09:05,其他,,13800001111,\n").encode("utf-8-sig")
    response = client.post(url, {"file": SimpleUploadedFile("12345.csv", content, content_type="text/csv")})
    assert response.status_code == 200
    assert response.context["result"]["created"] == 1 and len(response.context["result"]["errors"]) == 1
    ticket = Ticket.objects.get(external_id="W-1")
    assert ticket.category.code == "berth_occupied" and ticket.lot == liangxi_lot
    assert AuditEntry.objects.get(action="ticket.created").actor == city_staff
    again = client.post(url, {"file": SimpleUploadedFile("12345.csv", content, content_type="text/csv")})
    assert again.context["result"]["skipped"] == 1 and Ticket.objects.count() == 1
