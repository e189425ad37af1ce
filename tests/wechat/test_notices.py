"""Notices: asked for through apps.common.notices, recorded, sent after commit by a task with
wechatpy's client, retried, the access token shared and fetched by one caller at a time."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from apps.common import notices
from apps.wechat.client import official_account
from apps.wechat.models import Notice
from tests.factories_wechat import BoundPlateFactory, IdentityFactory

pytestmark = pytest.mark.django_db

TEMPLATE_SEND = "/cgi-bin/message/template/send"


@pytest.fixture
def follower():
    return IdentityFactory(openid="o-follower")


def _receipt(**who):
    notices.notify(kind=notices.PAYMENT_RECEIPT, data={"keyword1": "苏B12345", "keyword2": "¥6.00"}, url="/me/",
                   **who)


def test_a_notice_is_sent_after_commit_as_a_template_message(fake_wechat, follower,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        _receipt(user=follower.citizen.user)
        assert not fake_wechat.to(TEMPLATE_SEND)  # not before the commit
    assert len(callbacks) == 1
    (call,) = fake_wechat.to(TEMPLATE_SEND)
    assert call.body["touser"] == "o-follower" and call.body["template_id"] == "TPL-RECEIPT"
    assert call.body["data"] == {"keyword1": {"value": "苏B12345"}, "keyword2": {"value": "¥6.00"}}
    assert call.body["url"] == "https://park.example.cn/me/"
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts, notice.citizen) == ("sent", 1, follower.citizen)
    assert notice.wechat_msgid


def test_a_rolled_back_transaction_sends_and_records_nothing(fake_wechat, follower,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        _receipt(user=follower.citizen.user)
        raise RuntimeError("the payment failed")
    assert not Notice.objects.exists()
    assert not fake_wechat.to(TEMPLATE_SEND)


def test_a_notice_for_a_plate_reaches_its_holder(fake_wechat, follower, django_capture_on_commit_callbacks):
    BoundPlateFactory(citizen=follower.citizen, plate="苏B12345")
    with django_capture_on_commit_callbacks(execute=True):
        _receipt(plate="苏B12345")
        _receipt(plate="苏B99999")  # nobody holds it: nobody is told
    assert [call.body["touser"] for call in fake_wechat.to(TEMPLATE_SEND)] == ["o-follower"]


def test_notices_turned_off_send_and_record_nothing(fake_wechat, follower, settings,
                                                    django_capture_on_commit_callbacks):
    settings.WECHAT_NOTICES = False
    with django_capture_on_commit_callbacks(execute=True):
        _receipt(user=follower.citizen.user)
    assert not Notice.objects.exists() and not fake_wechat.calls


def test_a_kind_without_a_template_is_recorded_as_failed_for_staff(fake_wechat, follower,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notices.notify(kind=notices.TICKET_STATUS, data={"keyword1": "RX20260317-0123"}, user=follower.citizen.user)
    notice = Notice.objects.get()
    assert notice.state == "failed" and "no template" in notice.error
    assert not fake_wechat.to(TEMPLATE_SEND)


def test_asking_badly_is_refused():
    with pytest.raises(ValueError):
        notices.notify(kind="birthday", plate="苏B12345")
    with pytest.raises(ValueError):
        notices.notify(kind=notices.PAYMENT_RECEIPT)


def test_a_failed_send_is_retried_until_it_goes(fake_wechat, follower, django_capture_on_commit_callbacks):
    fake_wechat.fail(TEMPLATE_SEND, {"errcode": -1, "errmsg": "system error"}, {"errcode": -1, "errmsg": "busy"})
    with django_capture_on_commit_callbacks(execute=True):
        _receipt(user=follower.citizen.user)
    assert len(fake_wechat.to(TEMPLATE_SEND)) == 3
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts, notice.error) == ("sent", 3, "")


def test_a_send_that_keeps_failing_is_recorded_as_failed(fake_wechat, follower, django_capture_on_commit_callbacks):
    fake_wechat.fail(TEMPLATE_SEND, *[{"errcode": -1, "errmsg": "system error"}] * 10)
    with django_capture_on_commit_callbacks(execute=True):
        _receipt(user=follower.citizen.user)
    assert len(fake_wechat.to(TEMPLATE_SEND)) == 5
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts) == ("failed", 5)
    assert "system error" in notice.error
    assert list(Notice.objects.failed()) == [notice]


def test_a_refusal_no_retry_can_fix_is_not_retried(fake_wechat, follower, django_capture_on_commit_callbacks):
    fake_wechat.fail(TEMPLATE_SEND, {"errcode": 43004, "errmsg": "require subscribe"})
    with django_capture_on_commit_callbacks(execute=True):
        _receipt(user=follower.citizen.user)
    assert len(fake_wechat.to(TEMPLATE_SEND)) == 1
    assert Notice.objects.get().state == "failed"


def test_the_access_token_is_fetched_once_and_shared(fake_wechat, follower, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _receipt(user=follower.citizen.user)
        _receipt(user=follower.citizen.user)
    assert len(fake_wechat.to("/cgi-bin/token")) == 1
    assert len(fake_wechat.to(TEMPLATE_SEND)) == 2


def test_an_expired_token_is_replaced_and_the_send_repeated(fake_wechat, follower,
                                                            django_capture_on_commit_callbacks):
    fake_wechat.fail(TEMPLATE_SEND, {"errcode": 42001, "errmsg": "access_token expired"})
    with django_capture_on_commit_callbacks(execute=True):
        _receipt(user=follower.citizen.user)
    assert len(fake_wechat.to("/cgi-bin/token")) == 2
    assert Notice.objects.get().state == "sent"


def test_one_caller_at_a_time_fetches_the_token(fake_wechat):
    fake_wechat.token_delay_s = 0.3
    barrier = threading.Barrier(4)
    tokens = []

    def ask():
        barrier.wait()
        tokens.append(official_account().access_token)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(fake_wechat.to("/cgi-bin/token")) == 1
    assert len(set(tokens)) == 1 and len(tokens) == 4
