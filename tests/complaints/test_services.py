"""The hotline's services: numbers, dispatch after commit by ordered rules, reassignment, notes,
ratings, notices after commit (never on rollback), fee disputes and their sessions, the refund
port, the 12345 import, audit entries for what staff do."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.complaints import ports, services, workflow
from apps.complaints.errors import ComplaintError
from apps.complaints.models import Channel, DispatchRule, Escalation, Ticket, TicketChange, Unit
from apps.lots.fees import SHANGHAI
from apps.regions.models import Region
from apps.sessions.models import ParkingSession
from tests.factories import LotFactory, OperatorFactory
from tests.factories_complaints import PHONE, category, make_ticket, move

pytestmark = pytest.mark.django_db


@pytest.fixture
def binhu_lot(city):
    return LotFactory(region=Region.objects.get(code="320211"), code="BH-0001", name="蠡湖停车场")


def test_ticket_numbers_are_sequential_per_local_day(city):
    first = datetime(2026, 3, 17, 23, 59, tzinfo=SHANGHAI)
    a = make_ticket(received_at=first, dispatch=False)
    b = make_ticket(received_at=first + timedelta(seconds=30), dispatch=False)
    c = make_ticket(received_at=datetime(2026, 3, 18, 0, 0, 1, tzinfo=SHANGHAI), dispatch=False)
    assert (a.ticket_no, b.ticket_no, c.ticket_no) == ("RX20260317-0001", "RX20260317-0002", "RX20260318-0001")
    assert re.fullmatch(r"RX\d{8}-\d{4}", make_ticket(dispatch=False).ticket_no)


def test_a_new_ticket_is_dispatched_after_commit_to_its_lot_s_district_office(city, binhu_lot,
                                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = services.ticket_create(channel=Channel.WEB, category="berth_occupied", description="车位被占",
                                        phone=PHONE, lot=binhu_lot)
    assert Ticket.objects.get(pk=ticket.pk).state == workflow.RECEIVED  # nothing routed inside the transaction
    for callback in callbacks:
        callback()
    ticket.refresh_from_db()
    assert ticket.state == workflow.DISPATCHED
    assert ticket.unit == Unit.objects.get(region__code="320211")
    assert ticket.unit.name == "滨湖区停车管理办公室"
    assert [c.state for c in ticket.changes.all()] == ["received", "dispatched"]
    assert ticket.last_change == ticket.changes.last()


def test_the_caller_is_told_the_ticket_was_received_and_dispatched(city, binhu_lot, notices,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_create(channel=Channel.WECHAT, category="other", description="路灯坏了",
                                        phone=PHONE, lot=binhu_lot)
    assert [(kind, no, change.state) for kind, no, change in notices] == [
        ("status", ticket.ticket_no, "received"), ("status", ticket.ticket_no, "dispatched")]


def test_a_ticket_rolled_back_is_never_dispatched(city, binhu_lot, django_capture_on_commit_callbacks):
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        services.ticket_create(channel=Channel.WEB, category="other", description="x", phone=PHONE, lot=binhu_lot)
        raise RuntimeError
    assert callbacks == [] and not Ticket.objects.exists()


def test_dispatch_rules_apply_in_order_and_every_condition_must_match(city, binhu_lot):
    operator_unit = services.unit_for_operator(binhu_lot.operator)
    city_unit = services.unit_city()
    binhu = Region.objects.get(code="320211")
    liangxi_unit = services.unit_for_region(Region.objects.get(code="320213"))
    # a rule for another category, then one for the operator's fee disputes, then a catch-all for 滨湖
    DispatchRule.objects.create(position=1, category=category("suggestion"), unit=city_unit)
    DispatchRule.objects.create(position=2, category=category("fee_dispute"), operator=binhu_lot.operator,
                                unit=operator_unit)
    DispatchRule.objects.create(position=3, region=binhu, unit=liangxi_unit)
    DispatchRule.objects.create(position=0, region=binhu, unit=city_unit, active=False)
    assert make_ticket(lot=binhu_lot, category_code="suggestion").unit == city_unit
    assert make_ticket(lot=binhu_lot, category_code="fee_dispute").unit == operator_unit
    assert make_ticket(lot=binhu_lot, category_code="equipment_fault").unit == liangxi_unit
    other = LotFactory(region=Region.objects.get(code="320214"))
    assert make_ticket(lot=other, category_code="fee_dispute").unit.region.code == "320214"


def test_a_ticket_about_no_lot_goes_to_its_region_or_the_city(city):
    assert make_ticket(region=Region.objects.get(code="320205")).unit.region.code == "320205"
    ticket = services.ticket_create(channel=Channel.WEB, category="suggestion", description="多建停车场",
                                    phone=PHONE)
    services.ticket_dispatch(ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.unit.kind == Unit.Kind.CITY and ticket.region is None


def test_dispatching_twice_changes_nothing(city):
    ticket = make_ticket()
    rows = ticket.changes.count()
    services.ticket_dispatch(ticket=ticket)
    assert ticket.changes.count() == rows


def test_reassignment_needs_a_reason_moves_the_region_and_is_audited(city, binhu_lot, staff_factory):
    ticket = make_ticket(lot=binhu_lot)
    officer = staff_factory("region", "320211")
    xinwu = services.unit_for_region(Region.objects.get(code="320214"))
    with pytest.raises(ComplaintError) as refused:
        services.ticket_reassign(ticket=ticket, unit=xinwu, reason=" ", actor=officer)
    assert refused.value.code == "reason_required"
    moved = services.ticket_reassign(ticket=ticket, unit=xinwu, reason="属新吴区管辖", actor=officer)
    assert moved.unit == xinwu and moved.region.code == "320214"
    change = moved.last_change
    assert (change.kind, change.note, change.public, change.actor) == ("reassigned", "属新吴区管辖", False, officer)
    entry = AuditEntry.objects.get(action="ticket.reassigned")
    assert entry.actor == officer and entry.object_id == ticket.pk
    # The 滨湖 officer no longer runs it.
    with pytest.raises(ComplaintError) as refused:
        services.ticket_transition(ticket=moved, target="in_progress", actor=officer)
    assert refused.value.code == "forbidden"


def test_staff_moves_are_audited_and_public_ones_notify_after_commit(city, notices, staff_factory,
                                                                     django_capture_on_commit_callbacks):
    officer = staff_factory("region", "320213")
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_transition(ticket=ticket, target="in_progress", actor=officer, note="已联系车主")
        services.ticket_note(ticket=ticket, note="内部：等待设备厂商", public=False, actor=officer)
    assert [(kind, no, change.state) for kind, no, change in notices] == [("status", ticket.ticket_no, "in_progress")]
    entry = AuditEntry.objects.get(action="ticket.in_progress")
    assert entry.actor == officer and entry.changes == {"state": ["dispatched", "in_progress"]}
    assert AuditEntry.objects.filter(action="ticket.noted").count() == 1
    ticket.refresh_from_db()
    assert ticket.responded_at is not None


def test_no_notice_when_the_change_rolls_back(city, notices, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.ticket_transition(ticket=ticket, target="in_progress", actor=None)
        raise RuntimeError
    assert notices == []
    assert Ticket.objects.get(pk=ticket.pk).state == "dispatched"


def test_a_failing_notice_sender_never_undoes_the_change(city, django_capture_on_commit_callbacks):
    def broken(kind, ticket, change):
        raise OSError("wechat down")

    ports.register_notice_sender(broken)
    try:
        ticket = make_ticket()
        with django_capture_on_commit_callbacks(execute=True):
            services.ticket_transition(ticket=ticket, target="in_progress", actor=None)
    finally:
        ports.unregister_notice_sender(broken)
    assert Ticket.objects.get(pk=ticket.pk).state == "in_progress"


def test_recategorising_takes_the_new_sla_from_the_receipt_time(city, staff_factory):
    received = datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)  # a Monday
    ticket = make_ticket(category_code="suggestion", received_at=received)  # 15 working days
    officer = staff_factory("region", "320213")
    changed = services.ticket_categorise(ticket=ticket, category="berth_occupied", actor=officer)  # 1 working day
    assert changed.resolve_by == datetime(2026, 3, 17, 23, 59, 59, tzinfo=SHANGHAI)
    assert changed.respond_by == received + timedelta(hours=1)
    assert AuditEntry.objects.get(action="ticket.categorised").changes == {"category": ["suggestion", "berth_occupied"]}


def test_a_low_rating_reopens_the_ticket_for_the_supervisor(city):
    ticket = move(make_ticket(), "in_progress", "resolved")
    rated = services.ticket_rate(ticket=ticket, score=2, comment="没解决")
    assert rated.state == "reopened" and rated.review_requested
    assert rated.escalation == Escalation.REGION
    assert rated.resolved_at is None
    assert rated.rating == 2 and rated.rating_comment == "没解决"


def test_a_good_rating_changes_only_the_rating(city):
    ticket = move(make_ticket(), "in_progress", "resolved")
    rated = services.ticket_rate(ticket=ticket, score=5)
    assert rated.state == "resolved" and not rated.review_requested and rated.escalation == Escalation.NONE


def test_a_low_rating_of_a_closed_ticket_asks_for_review_without_reopening(city):
    ticket = move(make_ticket(), "in_progress", "resolved", "closed")
    rated = services.ticket_rate(ticket=ticket, score=1)
    assert rated.state == "closed" and rated.review_requested and rated.escalation == Escalation.REGION


def test_a_fee_dispute_is_matched_to_the_plate_s_stay_in_that_lot(city):
    lot = LotFactory()
    other_lot = LotFactory()
    now = timezone.now()
    old = ParkingSession.objects.create(lot=lot, plate="苏B12345", entry_at=now - timedelta(days=40), state="closed")
    ParkingSession.objects.create(lot=other_lot, plate="苏B12345", entry_at=now - timedelta(hours=1), state="closed")
    stay = ParkingSession.objects.create(lot=lot, plate="苏B12345", entry_at=now - timedelta(hours=5), state="closed")
    ticket = make_ticket(lot=lot, category_code="fee_dispute", plate="苏b·12345")
    assert ticket.session == stay and ticket.plate == "苏B12345"
    assert old != ticket.session
    # A stay the call-taker picked gives the lot and the plate.
    picked = services.ticket_create(channel=Channel.PHONE, category="wrong_charge", description="重复扣费",
                                    phone=PHONE, session=old)
    assert (picked.lot, picked.plate, picked.region) == (lot, "苏B12345", lot.region)
    with pytest.raises(ComplaintError) as refused:
        services.ticket_create(channel=Channel.PHONE, category="wrong_charge", description="x", phone=PHONE,
                               session=old, lot=other_lot)
    assert refused.value.code == "session_mismatch"


def test_a_refund_starts_only_through_the_registered_port(city, staff_factory):
    officer = staff_factory("region", "320213")
    lot = LotFactory()
    stay = ParkingSession.objects.create(lot=lot, plate="苏B12345", entry_at=timezone.now(), state="closed")
    ticket = make_ticket(lot=lot, category_code="fee_dispute", plate="苏B12345")
    assert ticket.session == stay
    registered = ports.refund_starter()
    ports.register_refund_starter(None)
    try:
        with pytest.raises(ComplaintError) as refused:
            services.ticket_start_refund(ticket=ticket, actor=officer)
        assert refused.value.code == "refunds_unavailable"
        asked = []
        ports.register_refund_starter(lambda *, ticket, session, actor: asked.append(session) or "RF-1")
        started = services.ticket_start_refund(ticket=ticket, actor=officer)
    finally:
        ports.register_refund_starter(registered)
    assert started.refund_ref == "RF-1" and asked == [stay]
    assert AuditEntry.objects.filter(action="ticket.refund_started", actor=officer).exists()
    not_fee = make_ticket(lot=lot, category_code="equipment_fault")
    with pytest.raises(ComplaintError) as refused:
        services.ticket_start_refund(ticket=not_fee, actor=officer)
    assert refused.value.code == "not_a_fee_dispute"


def test_the_12345_import_maps_categories_and_skips_duplicates(city):
    lot = LotFactory()
    rows = [
        {"工单编号": "12345-001", "受理时间": "2026-03-17 09:00:00", "诉求类别": "乱收费", "诉求内容": "多收了钱",
         "来电号码": "13800001111", "联系人": "王先生", "地址": "中山路", "停车场编码": lot.code, "车牌": ""},
        {"工单编号": "12345-002", "受理时间": "2026-03-17 10:00", "诉求类别": "路灯不亮", "诉求内容": "其他问题",
         "来电号码": "0510-82345678", "联系人": "", "地址": "", "停车场编码": "", "车牌": ""},
        {"工单编号": "12345-003", "受理时间": "2026-03-17 10:00", "诉求类别": "泊位被占", "诉求内容": "",
         "来电号码": "13800001111", "联系人": "", "地址": "", "停车场编码": "", "车牌": ""},
    ]
    result = services.tickets_import_12345(rows=rows)
    assert result["created"] == 2 and result["skipped"] == 0
    assert result["errors"] == [{"line": 4, "code": "empty_description", "message": "请填写诉求内容"}]
    first = Ticket.objects.get(external_id="12345-001")
    assert first.channel == "12345" and first.category.code == "fee_dispute" and first.lot == lot
    assert timezone.localtime(first.created_at) == datetime(2026, 3, 17, 9, 0, tzinfo=SHANGHAI)
    assert first.ticket_no == "RX20260317-0001"
    assert Ticket.objects.get(external_id="12345-002").category.code == "other"
    again = services.tickets_import_12345(rows=rows[:2])
    assert again["created"] == 0 and again["skipped"] == 2
    assert Ticket.objects.filter(channel="12345").count() == 2


def test_the_12345_command_reads_a_csv_export(city, tmp_path, capsys):
    import json

    from django.core.management import call_command

    path = tmp_path / "export.csv"
    path.write_text("\ufeff工单编号,受理时间,诉求类别,诉求内容,来电号码\n"
                    "A-1,2026-03-17 09:00,设备故障,道闸坏了,13800001111\n", encoding="utf-8")
    call_command("import_12345", str(path))
    assert json.loads(capsys.readouterr().out) == {"created": 1, "skipped": 0, "errors": []}
    assert Ticket.objects.get(external_id="A-1").category.code == "equipment_fault"


def test_phones_are_normalised_and_bad_ones_refused():
    assert services.phone_normalize("+86 139-1234-5678") == "13912345678"
    assert services.phone_normalize("0510-8234 5678") == "051082345678"
    for bad in ("12345", "23912345678", "1391234567x", ""):
        with pytest.raises(ComplaintError) as refused:
            services.phone_normalize(bad)
        assert refused.value.code == "invalid_phone"


def test_an_operator_unit_s_staff_work_only_tickets_sent_to_them(city, staff_factory):
    operator = OperatorFactory()
    lot = LotFactory(operator=operator)
    ticket = make_ticket(lot=lot)
    operator_staff = staff_factory("operator", operator)
    with pytest.raises(ComplaintError) as refused:
        services.ticket_transition(ticket=ticket, target="in_progress", actor=operator_staff)
    assert refused.value.code == "forbidden"
    services.ticket_reassign(ticket=ticket, unit=services.unit_for_operator(operator), reason="设备归运营方",
                             actor=staff_factory("city"))
    moved = services.ticket_transition(ticket=ticket, target="in_progress", actor=operator_staff)
    assert moved.state == "in_progress"
    assert TicketChange.objects.filter(ticket=ticket, actor=operator_staff).count() == 1
