"""The features connected through their ports (the wiring issue 10 "fills"): notices from payments,
bookings and the hotline reach the citizen through the WeChat account; WeChat's 投诉 opens a real
ticket; a fee dispute starts a refund; an order inside WeChat is JSAPI; a booking and a payment
agreement on one exit. Each is driven through the public API or a service, and asserted by its
effect: the template message at the fake WeChat, the ticket, the refund, the gateway's request."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.complaints import answers
from apps.complaints import services as complaint_services
from apps.complaints.models import Ticket
from apps.payments.models import AgreementCharge, Order, Refund
from apps.reservations.models import Reservation
from apps.wechat.models import Notice
from tests.factories_complaints import make_ticket
from tests.factories_payments import (
    AgreementFactory,
    Gate,
    flat_lot,
    order_for,
    payment_payload,
    post_notice,
    stay_waiting,
)
from tests.factories_reservations import HospitalFactory, SlotFactory
from tests.factories_sessions import entry_event, exit_event, signed_post
from tests.factories_wechat import BoundPlateFactory, IdentityFactory
from tests.payments.fakes import wechat_gw  # noqa: F401  (WeChat Pay, faked at its HTTP edge)
from tests.wechat import fake as wechat

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

TEMPLATE_SEND = "/cgi-bin/message/template/send"
CUSTOM_SEND = "/cgi-bin/message/custom/send"
PLATE = "苏B12345"


def holder(openid: str = "o-holder", plate: str = PLATE):
    """A follower of the account who bound ``plate``."""
    identity = IdentityFactory(openid=openid, app_id=wechat.APP_ID)
    BoundPlateFactory(citizen=identity.citizen, plate=plate)
    return identity


def template_calls(fake, kind: str) -> list:
    return [call for call in fake.to(TEMPLATE_SEND) if call.body["template_id"] == f"TPL-{kind}"]


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# -- 1. notices -----------------------------------------------------------------------------------

def test_a_paid_order_sends_the_plates_holder_one_receipt_after_commit(wired, api_client, client,
                                                                       django_capture_on_commit_callbacks):
    holder()
    stay = stay_waiting(Gate(flat_lot()))
    order = Order.objects.get(order_no=order_for(api_client, [stay.pk]).json()["order_no"])
    assert not Notice.objects.exists()  # ordering is not paying
    for _attempt in range(2):  # the gateway repeats its notice: one receipt
        with django_capture_on_commit_callbacks(execute=True):
            assert post_notice(client, payment_payload(order)).status_code in (200, 204)
    (call,) = template_calls(wired, "payment_receipt")
    assert call.body["touser"] == "o-holder"
    assert call.body["data"]["order_no"] == {"value": order.order_no}
    assert call.body["data"]["amount_fen"] == {"value": "600"}
    assert Notice.objects.get().state == "sent"


def test_a_rejected_payment_notice_sends_no_receipt(wired, api_client, client, django_capture_on_commit_callbacks):
    holder()
    stay = stay_waiting(Gate(flat_lot()))
    order = Order.objects.get(order_no=order_for(api_client, [stay.pk]).json()["order_no"])
    with django_capture_on_commit_callbacks(execute=True):
        post_notice(client, payment_payload(order, amount_fen=1))  # a genuine notice that does not match
    assert Order.objects.get(pk=order.pk).state == "created"
    assert not Notice.objects.exists() and not wired.to(TEMPLATE_SEND)


def test_a_pay_later_charge_tells_the_holder_instead_of_a_receipt(wired, django_capture_on_commit_callbacks):
    holder()
    gate = Gate(flat_lot())
    AgreementFactory(plate=PLATE, provider_ref="AG-OK-1")
    gate.enter(PLATE, at=timezone.now() - timedelta(minutes=50))
    with django_capture_on_commit_callbacks(execute=True):  # the charge runs after the exit commits
        assert gate.exit(PLATE)["release_reason"] == "pay_later"
    assert AgreementCharge.objects.get().state == "paid"
    assert list(Notice.objects.values_list("kind", flat=True)) == ["pay_later_charge"]
    (call,) = template_calls(wired, "pay_later_charge")
    assert call.body["touser"] == "o-holder" and call.body["data"]["amount_fen"] == {"value": "400"}


def test_booking_through_the_api_confirms_by_a_template_message(wired, django_capture_on_commit_callbacks):
    identity = holder()
    slot = SlotFactory(hospital=HospitalFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(identity.citizen.user).post("/api/v1/reservations/", {"slot": slot.pk, "plate": PLATE},
                                                         format="json")
    assert response.status_code == 201, response.content
    (call,) = template_calls(wired, "reservation_confirmed")
    assert call.body["touser"] == "o-holder"
    assert call.body["data"]["code"] == {"value": response.json()["code"]}


def test_a_refused_booking_asks_for_no_notice(wired, django_capture_on_commit_callbacks):
    identity = holder()
    slot = SlotFactory(hospital=HospitalFactory(), quota=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(identity.citizen.user).post("/api/v1/reservations/", {"slot": slot.pk, "plate": PLATE},
                                                         format="json")
    assert response.status_code == 409 and not Reservation.objects.exists()
    assert not Notice.objects.exists()


def test_a_no_show_is_told_through_the_account(wired, django_capture_on_commit_callbacks):
    from apps.reservations import services as booking_services

    identity = holder()
    reservation = booking_services.reservation_book(user=identity.citizen.user,
                                                    slot_id=SlotFactory(hospital=HospitalFactory()).pk, plate=PLATE)
    with django_capture_on_commit_callbacks(execute=True):
        booking_services.reservations_sweep(now=reservation.arrive_until + timedelta(seconds=1))
    assert [call.body["touser"] for call in template_calls(wired, "reservation_no_show")] == ["o-holder"]


# -- 1, 2. the hotline ------------------------------------------------------------------------------

def test_a_complaint_in_wechat_opens_a_ticket_and_its_progress_is_told(wired, client, staff_factory,
                                                                       django_capture_on_commit_callbacks):
    holder(openid="o-caller")
    with django_capture_on_commit_callbacks(execute=True):
        response = wechat.post_plain(client, wechat.text_xml("o-caller", f"投诉 中山路停车场{PLATE}多收费 13912345678"))
    assert response.content == b"success"  # another app's work: answered by a customer-service message
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.phone, ticket.plate, ticket.category.code) == ("wechat", "13912345678", PLATE,
                                                                                 "other")
    assert answers.caller_openid(ticket) == "o-caller"
    (reply,) = wired.to(CUSTOM_SEND)
    assert reply.body["touser"] == "o-caller" and f"工单号 {ticket.ticket_no}" in reply.body["text"]["content"]
    # dispatched after commit: the first public change the caller is told of
    (dispatched,) = template_calls(wired, "ticket_status")
    assert dispatched.body["touser"] == "o-caller"
    assert dispatched.body["url"] == f"https://park.example.cn/hotline/track/?no={ticket.ticket_no}"
    city = staff_factory("city")
    with django_capture_on_commit_callbacks(execute=True):
        complaint_services.ticket_transition(ticket=ticket, target="in_progress", actor=city, note="已联系经营单位",
                                             public=False)
    assert len(template_calls(wired, "ticket_status")) == 1  # not a public change: not told
    with django_capture_on_commit_callbacks(execute=True):
        complaint_services.ticket_transition(ticket=ticket, target="resolved", actor=city, note="已退还多收的费用")
    resolved = template_calls(wired, "ticket_status")[-1]
    assert resolved.body["touser"] == "o-caller"
    assert resolved.body["data"]["ticket_no"] == {"value": ticket.ticket_no}
    assert resolved.body["data"]["note"] == {"value": "已退还多收的费用"}


def test_a_wechat_complaint_without_a_phone_is_followed_up_by_the_account(wired, client,
                                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        wechat.post_plain(client, wechat.text_xml("o-new", "投诉 道闸抬不起来"))
    ticket = Ticket.objects.get()
    assert ticket.phone == "" and answers.caller_openid(ticket) == "o-new"
    assert f"工单号 {ticket.ticket_no}" in wired.to(CUSTOM_SEND)[0].body["text"]["content"]


def test_a_ticket_from_the_web_tells_nobody_through_the_account(wired, django_capture_on_commit_callbacks):
    holder()
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(plate=PLATE)  # the plate's holder is not the caller
    assert not template_calls(wired, "ticket_status")


def test_a_ticket_filed_on_the_web_while_logged_in_is_told_through_the_account(wired,
                                                                              django_capture_on_commit_callbacks):
    identity = holder(openid="o-web")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(identity.citizen.user).post(
            "/api/v1/complaints/", {"category": "equipment_fault", "description": "道闸抬不起来",
                                    "phone": "13912345678"}, format="json")
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get()
    assert (ticket.channel, ticket.user) == ("web", identity.citizen.user)
    (dispatched,) = template_calls(wired, "ticket_status")  # as a WeChat ticket's sender is told
    assert dispatched.body["touser"] == "o-web"
    assert dispatched.body["url"] == f"https://park.example.cn/hotline/track/?no={ticket.ticket_no}"
    with django_capture_on_commit_callbacks(execute=True):
        complaint_services.ticket_transition(ticket=ticket, target="in_progress", actor=None, public=False)
        complaint_services.ticket_transition(ticket=ticket, target="resolved", actor=None, note="已修复道闸")
    resolved = template_calls(wired, "ticket_status")[-1]
    assert resolved.body["touser"] == "o-web" and resolved.body["data"]["note"] == {"value": "已修复道闸"}


def test_a_filing_whose_dispatch_fails_after_commit_still_answers_201(wired, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    from apps.complaints import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis. Connection refused.")

    monkeypatch.setattr(tasks.dispatch_ticket, "delay", broker_down)  # the broker, at its edge
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post("/api/v1/complaints/", {"category": "other", "description": "路灯坏了",
                                                            "phone": "13912345678"}, format="json")
    assert response.status_code == 201, response.content
    assert Ticket.objects.get().state == "received"  # saved; the 督办 pass routes it


# -- 3. a fee dispute starts a refund ---------------------------------------------------------------

def test_a_fee_dispute_starts_a_refund_that_waits_for_approval(wired, api_client, client, officer, logged_in,
                                                               django_capture_on_commit_callbacks):
    stay = stay_waiting(Gate(flat_lot()))
    order = Order.objects.get(order_no=order_for(api_client, [stay.pk]).json()["order_no"])
    with django_capture_on_commit_callbacks(execute=True):
        post_notice(client, payment_payload(order))
    ticket = make_ticket(lot=stay.lot, category_code="fee_dispute", plate=PLATE)
    assert ticket.session_id == stay.pk
    assert "start_refund" in logged_in.get("/admin/complaints/ticket/").content.decode()
    started = complaint_services.ticket_start_refund(ticket=ticket, actor=officer)
    refund = Refund.objects.get()
    assert started.refund_ref == refund.refund_no
    assert (refund.order, refund.amount_fen, refund.state, refund.requested_by) == (order, 600, "requested", officer)
    assert ticket.ticket_no in refund.reason


def test_a_dispute_about_a_stay_paid_nothing_online_starts_no_refund(wired, officer):
    stay = stay_waiting(Gate(flat_lot()))
    ticket = make_ticket(lot=stay.lot, category_code="fee_dispute", plate=PLATE)
    with pytest.raises(Exception) as refused:
        complaint_services.ticket_start_refund(ticket=ticket, actor=officer)
    assert refused.value.code == "nothing_to_refund"
    assert not Refund.objects.exists() and Ticket.objects.get().refund_ref == ""


# -- 4. inside WeChat, WeChat Pay is JSAPI ----------------------------------------------------------

def test_an_order_from_inside_wechat_gets_jsapi_pay(wired, wechat_gw, settings):  # noqa: F811
    identity = IdentityFactory(openid="o-pay-openid", app_id=wechat_gw.app_id)
    stay = stay_waiting(Gate(flat_lot()))
    response = order_for(signed_in(identity.citizen.user), [stay.pk], channel="wechat")
    assert response.status_code == 201, response.content
    pay = response.json()["pay"]
    assert pay["trade_type"] == "JSAPI"
    assert set(pay["jsapi"]) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert pay["jsapi"]["appId"] == wechat_gw.app_id
    (placed,) = [json.loads(body) for _method, path, _headers, body in wechat_gw.calls if path.endswith("/jsapi")]
    assert placed["payer"] == {"openid": "o-pay-openid"} and placed["appid"] == wechat_gw.app_id


def test_a_citizen_without_a_pay_openid_gets_native_pay(wired, wechat_gw):  # noqa: F811
    identity = IdentityFactory(openid="o-account-only", app_id=wechat.APP_ID)  # not the payment app's openid
    stay = stay_waiting(Gate(flat_lot()))
    response = order_for(signed_in(identity.citizen.user), [stay.pk], channel="wechat")
    assert response.json()["pay"]["trade_type"] == "NATIVE"


# -- 6. a booking and a payment agreement on one exit -----------------------------------------------

def test_a_booked_arrival_with_an_agreement_leaves_as_reservation_first(wired, api_client):
    from apps.reservations import services as booking_services
    from tests.factories import DeviceFactory

    identity = holder()
    hospital = HospitalFactory()
    now = timezone.now()
    slot = SlotFactory(hospital=hospital, starts_at=now + timedelta(minutes=20), ends_at=now + timedelta(minutes=80))
    booking_services.reservation_book(user=identity.citizen.user, slot_id=slot.pk, plate=PLATE,
                                      now=now - timedelta(hours=3))
    AgreementFactory(plate=PLATE)
    AgreementFactory(plate="苏B54321")  # an agreement alone: pay later
    device, secret = DeviceFactory.issue(lots=[hospital.lot])
    entries = [entry_event(hospital.lot, plate, at=now - timedelta(minutes=15)) for plate in (PLATE, "苏B54321")]
    assert signed_post(api_client, device, secret, {"events": entries}).json()["accepted"] == 2
    assert Reservation.objects.get().state == "arrived"
    exits = [exit_event(hospital.lot, plate, at=now) for plate in (PLATE, "苏B54321")]
    response = signed_post(api_client, device, secret, {"events": exits})
    assert response.status_code == 200, response.content
    reasons = [result["session"]["release_reason"] for result in response.json()["results"]]
    assert reasons == ["reservation", "pay_later"]
