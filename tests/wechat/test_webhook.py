"""/wechat/ (SPEC §7): verification, signatures, plain and safe mode, the conversation, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.berths.models import Berth
from apps.common import tickets
from apps.common.geo import wgs84_to_gcj02
from apps.lots.models import ParkingLot
from apps.sessions.models import Arrears, ParkingSession
from apps.wechat.models import BoundPlate, Citizen, Notice, WechatIdentity
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory
from tests.factories_wechat import BoundPlateFactory, IdentityFactory
from tests.wechat import fake as wechat

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

OPENID = "o-citizen-0001"


def say(client, text: str, openid: str = OPENID, **kwargs) -> str | None:
    response = wechat.post_plain(client, wechat.text_xml(openid, text, **kwargs))
    assert response.status_code == 200, response.content
    return wechat.reply_in(response)


# --- verification and signatures ---------------------------------------------------------------

def test_get_verification_echoes_echostr(client, fake_wechat):
    params, _ts, _nonce = wechat._query()
    response = client.get("/wechat/", {**params, "echostr": "4471865"})
    assert response.status_code == 200
    assert response.content == b"4471865"


@pytest.mark.parametrize("token", ["not-the-token", ""])
def test_a_bad_or_missing_signature_is_403_and_changes_nothing(client, fake_wechat, token):
    params, _ts, _nonce = wechat._query(token)
    if not token:
        params.pop("signature")
    assert client.get("/wechat/", {**params, "echostr": "x"}).status_code == 403
    response = wechat.post_plain(client, wechat.text_xml(OPENID, "绑定 苏B12345"), token=token or "other")
    assert response.status_code == 403
    assert not Citizen.objects.exists() and not BoundPlate.objects.exists()


def test_without_a_configured_token_nothing_is_verified(client, fake_wechat, settings):
    settings.WECHAT_TOKEN = ""
    params, _ts, _nonce = wechat._query("")
    assert client.get("/wechat/", {**params, "echostr": "x"}).status_code == 403


def test_safe_mode_binds_a_plate_and_answers_encrypted(client, fake_wechat):
    response, reply = wechat.post_safe(client, wechat.text_xml(OPENID, "绑定 苏b·12345"))
    assert response.status_code == 200
    assert b"<Encrypt>" in response.content and "苏B12345".encode() not in response.content
    assert "已绑定车牌 苏B12345" in reply
    assert list(BoundPlate.objects.values_list("plate", "citizen__identities__openid")) == [("苏B12345", OPENID)]


def test_safe_mode_with_a_forged_message_signature_is_403(client, fake_wechat):
    response, _reply = wechat.post_safe(client, wechat.text_xml(OPENID, "绑定 苏B12345"), tamper=True)
    assert response.status_code == 403
    assert not BoundPlate.objects.exists()


@pytest.mark.parametrize("body", [b"<xml><MsgType>text", b"not xml at all", b"", "<xml>\u00ff</x>".encode()])
def test_malformed_xml_gets_success_and_changes_nothing(client, fake_wechat, body):
    params, _ts, _nonce = wechat._query()
    path = "/wechat/?" + "&".join(f"{k}={v}" for k, v in params.items())
    response = client.generic("POST", path, body, content_type="text/xml")
    assert response.status_code == 200
    assert response.content == b"success"
    assert not Citizen.objects.exists()


def test_an_unknown_event_gets_success(client, fake_wechat):
    response = wechat.post_plain(client, wechat.event_xml(OPENID, "some_future_event"))
    assert response.status_code == 200 and response.content == b"success"
    assert not Citizen.objects.exists()


# --- the conversation ---------------------------------------------------------------------------

def test_subscribe_welcomes_and_records_the_follower(client, fake_wechat):
    response = wechat.post_plain(client, wechat.event_xml(OPENID, "subscribe"))
    assert "欢迎关注「无锡停车」" in wechat.reply_in(response)
    assert WechatIdentity.objects.get(openid=OPENID).subscribed
    wechat.post_plain(client, wechat.event_xml(OPENID, "unsubscribe"))
    assert not WechatIdentity.objects.get(openid=OPENID).subscribed


@pytest.mark.parametrize("text", ["帮助", "你好", "？"])
def test_help_and_anything_else_get_the_help(client, fake_wechat, text):
    assert "绑定 苏B12345" in say(client, text)


def test_an_invalid_plate_is_refused_and_nothing_is_bound(client, fake_wechat):
    reply = say(client, "绑定 苏B1234")
    assert reply.startswith("绑定失败")
    assert not BoundPlate.objects.exists()


def test_a_fourth_plate_is_refused(client, fake_wechat):
    for plate in ("苏B11111", "苏B22222", "苏B33333"):
        assert "已绑定" in say(client, f"绑定 {plate}")
    reply = say(client, "绑定 苏B44444")
    assert "最多绑定 3 个车牌" in reply
    assert sorted(BoundPlate.objects.values_list("plate", flat=True)) == ["苏B11111", "苏B22222", "苏B33333"]


def test_a_plate_someone_else_holds_is_not_taken_nor_shown(client, fake_wechat):
    BoundPlateFactory(plate="苏B12345")
    reply = say(client, "绑定 苏B12345")
    assert "已被其他用户绑定" in reply
    assert BoundPlate.objects.get(plate="苏B12345").citizen.identities.count() == 0


def test_unbind(client, fake_wechat):
    say(client, "绑定 苏B12345")
    assert "已解除绑定 苏B12345" in say(client, "解绑 苏B12345")
    assert not BoundPlate.objects.exists()
    assert "解绑失败" in say(client, "解绑 苏B12345")


def test_my_cars_names_the_lot_berth_floor_and_fee_so_far_of_my_own_plates_only(client, fake_wechat):
    identity = IdentityFactory(openid=OPENID)
    BoundPlateFactory(citizen=identity.citizen, plate="苏B12345")
    lot = LotFactory(name="中山路地下停车场")
    berth = Berth.objects.create(lot=lot, code="B-017", floor="负二层")
    # 90 minutes on an all-day hospital-like ladder: charged from entry, so not free
    lot.tariff.rules = {"small": {"free_minutes": 15, "bands": [{"start": "00:00", "end": "24:00", "ladder": [
        {"after_minutes": 0, "unit_minutes": 30, "unit_fen": 250}]}]}}
    lot.tariff.save()
    SessionFactory(lot=lot, berth=berth, plate="苏B12345", entry_at=timezone.now() - timedelta(minutes=80))
    SessionFactory(lot=lot, plate="苏B99999")  # someone else's car in the same lot
    reply = say(client, "我的车")
    assert "苏B12345 停在 中山路地下停车场，泊位 B-017，负二层" in reply
    assert "当前费用 ¥7.50" in reply  # three started half hours
    assert f"/map/lots/{lot.code}/navigate/" in reply
    assert "苏B99999" not in reply


def test_my_cars_without_plates_says_how_to_bind(client, fake_wechat):
    assert "还没有绑定车牌" in say(client, "我的车")


def test_arrears_lists_what_my_plates_owe_with_a_pay_link(client, fake_wechat):
    identity = IdentityFactory(openid=OPENID)
    BoundPlateFactory(citizen=identity.citizen, plate="苏B12345")
    lot = LotFactory(name="学前街停车场", code="LX-PAY-1")
    for plate, amount in (("苏B12345", 1200), ("苏B99999", 800)):
        session = SessionFactory(lot=lot, plate=plate, state=ParkingSession.State.CLOSED,
                                 exit_at=timezone.now(), amount_fen=amount, due_fen=amount)
        Arrears.objects.create(session=session, plate=plate, lot=lot, amount_fen=amount, created_at=timezone.now())
    reply = say(client, "欠费")
    assert "苏B12345 在 学前街停车场" in reply and "¥12.00" in reply
    assert "https://park.example.cn/pay/LX-PAY-1/" in reply
    assert "苏B99999" not in reply and "¥8.00" not in reply


def test_a_menu_click_answers_like_the_command(client, fake_wechat):
    response = wechat.post_plain(client, wechat.event_xml(OPENID, "CLICK", "MY_CARS"))
    assert "还没有绑定车牌" in wechat.reply_in(response)
    response = wechat.post_plain(client, wechat.event_xml(OPENID, "VIEW", "https://park.example.cn/map/"))
    assert response.content == b"success"


def test_reservation_gives_the_booking_link(client, fake_wechat):
    assert "https://park.example.cn/wechat/oauth/?next=%2Freservations%2F" in say(client, "预约")


def test_complaint_without_the_hotline_points_to_its_web_form(client, fake_wechat, no_ticket_opener):
    tickets.register_ticket_opener(None)
    assert "https://park.example.cn/complaints/new/" in say(client, "投诉 收费与公示不符")


def test_a_location_in_gcj02_gets_the_five_nearest_lots_with_free_berths(client, fake_wechat):
    here = (31.5700, 120.3000)  # WGS-84
    north = 0.0009  # about 100 m of latitude
    lots = {}
    for index, (name, free, status) in enumerate([
            ("一号", 5, "open"), ("二号满", 0, "open"), ("三号", 8, "open"), ("四号关闭", 9, "closed"),
            ("五号", 1, "open"), ("六号", 2, "open"), ("七号", 3, "open"), ("八号", 4, "open")], 1):
        lots[name] = LotFactory(name=f"{name}停车场", lat=here[0] + index * north, lon=here[1], free_berths=free,
                                total_berths=50, status=getattr(ParkingLot.Status, status.upper()))
    gcj = wgs84_to_gcj02(*here)
    assert abs(gcj[1] - here[1]) > 0.004  # the offset is hundreds of metres: a WGS search would be wrong
    response = wechat.post_plain(client, wechat.location_xml(OPENID, *gcj))
    reply = wechat.reply_in(response)
    names = [line.split(". ", 1)[1].split("，")[0] for line in reply.splitlines() if line[:1].isdigit()]
    assert names == ["一号停车场", "三号停车场", "五号停车场", "六号停车场", "七号停车场"]
    assert "1. 一号停车场，100 米，空位 5/50" in reply
    assert f"/map/lots/{lots['一号'].code}/navigate/" in reply


# --- once, and the five seconds -----------------------------------------------------------------

def test_a_retried_message_is_acted_on_once_and_gets_the_same_reply(client, fake_wechat):
    xml = wechat.text_xml(OPENID, "绑定 苏B12345", msg_id=777001)
    first = wechat.reply_in(wechat.post_plain(client, xml))
    BoundPlate.objects.all().delete()  # had the retry acted, it would bind again
    again = wechat.reply_in(wechat.post_plain(client, xml))
    assert again == first
    assert not BoundPlate.objects.exists()


def test_an_event_retry_is_recognised_by_sender_and_time(client, fake_wechat):
    xml = wechat.event_xml(OPENID, "subscribe", created=1700000000)
    wechat.post_plain(client, xml)
    WechatIdentity.objects.update(subscribed=False)
    wechat.post_plain(client, xml)
    assert not WechatIdentity.objects.get().subscribed


def test_a_slow_command_answers_success_and_a_task_sends_the_reply(client, fake_wechat, no_ticket_opener,
                                                                  django_capture_on_commit_callbacks):
    opened = []

    def opener(request):
        opened.append(request)
        return tickets.TicketReceipt(ticket_no="RX20260317-0123")

    tickets.register_ticket_opener(opener)
    identity = IdentityFactory(openid=OPENID)
    BoundPlateFactory(citizen=identity.citizen, plate="苏B12345")
    with django_capture_on_commit_callbacks(execute=True):
        response = wechat.post_plain(client, wechat.text_xml(OPENID, "投诉 中山路停车场收费与公示不符"))
    assert response.content == b"success"
    assert [(r.text, r.openid, r.plates) for r in opened] == [("中山路停车场收费与公示不符", OPENID, ("苏B12345",))]
    (sent,) = fake_wechat.to("/cgi-bin/message/custom/send")
    assert sent.body["touser"] == OPENID and sent.body["msgtype"] == "text"
    assert "工单号 RX20260317-0123" in sent.body["text"]["content"]
    notice = Notice.objects.get()
    assert (notice.channel, notice.state, notice.citizen) == ("customer_service", "sent", identity.citizen)


def test_the_commands_the_english_help_names_work_too(client, fake_wechat):
    assert "苏B12345" in say(client, "bind 苏B12345")
    assert "苏B12345" in say(client, "My cars")
    assert BoundPlate.objects.filter(plate="苏B12345").exists()
    say(client, "unbind 苏B12345")
    assert not BoundPlate.objects.exists()


def test_with_the_cache_unreachable_a_retry_still_acts_once(client, fake_wechat, settings):
    from apps.wechat.models import SeenMessage
    from tests.outages import UNREACHABLE_REDIS_CACHES

    working = settings.CACHES
    settings.CACHES = UNREACHABLE_REDIS_CACHES
    xml = wechat.text_xml(OPENID, "绑定 苏B12345", msg_id=777002)
    assert "已绑定车牌" in wechat.reply_in(wechat.post_plain(client, xml))
    BoundPlate.objects.all().delete()
    assert wechat.post_plain(client, xml).content == b"success"  # the retry: recorded in the database
    assert not BoundPlate.objects.exists()
    assert SeenMessage.objects.count() == 1
    settings.CACHES = working  # back: a retry of a message handled during the outage is still one
    assert wechat.post_plain(client, xml).content == b"success"
    assert not BoundPlate.objects.exists()


def test_a_deferred_answer_that_fails_still_tells_the_citizen_something(client, fake_wechat, no_ticket_opener,
                                                                        django_capture_on_commit_callbacks):
    def broken(request):
        raise ConnectionError("the hotline is down")

    tickets.register_ticket_opener(broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = wechat.post_plain(client, wechat.text_xml(OPENID, "投诉 路边停车乱收费"))
    assert response.content == b"success"
    (sent,) = fake_wechat.to("/cgi-bin/message/custom/send")
    assert "https://park.example.cn/complaints/new/" in sent.body["text"]["content"]
