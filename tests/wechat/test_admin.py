"""Staff see citizens, bound plates and notices in scope (a plate where it parked), read-only;
the menu is pushed by the command or the admin's button, against the fake WeChat."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.wechat.menu import account_menu
from apps.wechat.models import BoundPlate, Citizen, Notice
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory
from tests.factories_wechat import BoundPlateFactory, IdentityFactory

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"


@pytest.fixture
def plates_in_two_districts(city):
    """苏B11111 parked in 梁溪, 苏B22222 in 滨湖; one citizen holds both, another only the 滨湖 one's twin."""
    SessionFactory(lot=LotFactory(region=city[LX]), plate="苏B11111")
    SessionFactory(lot=LotFactory(region=city[BH]), plate="苏B22222")
    SessionFactory(lot=LotFactory(region=city[BH]), plate="苏B33333")
    both = IdentityFactory(openid="o-both").citizen
    BoundPlateFactory(citizen=both, plate="苏B11111")
    BoundPlateFactory(citizen=both, plate="苏B22222")
    binhu_only = IdentityFactory(openid="o-binhu").citizen
    BoundPlateFactory(citizen=binhu_only, plate="苏B33333")
    never_parked = IdentityFactory(openid="o-none").citizen
    BoundPlateFactory(citizen=never_parked, plate="苏B44444")
    for citizen in (both, binhu_only, never_parked):
        Notice.objects.create(citizen=citizen, app_id="wx", openid="o", channel="template", kind="payment_receipt",
                              state="failed", error="busy")
    return both, binhu_only, never_parked


def test_a_district_officer_sees_only_the_plates_that_parked_in_the_district(plates_in_two_districts, officer,
                                                                              staff_factory):
    both, binhu_only, _never = plates_in_two_districts
    assert binhu_only not in Citizen.objects.for_user(officer)
    assert list(BoundPlate.objects.for_user(officer).values_list("plate", flat=True)) == ["苏B11111"]
    assert list(Citizen.objects.for_user(officer)) == [both]
    assert list(Notice.objects.for_user(officer).values_list("citizen", flat=True)) == [both.pk]
    binhu = staff_factory("region", BH)
    assert sorted(BoundPlate.objects.for_user(binhu).values_list("plate", flat=True)) == ["苏B22222", "苏B33333"]
    city_wide = staff_factory("city")
    assert BoundPlate.objects.for_user(city_wide).count() == 4


def test_the_admin_pages_follow_the_scope(plates_in_two_districts, logged_in):
    both, binhu_only, _never = plates_in_two_districts
    page = logged_in.get(reverse("admin:wechat_boundplate_changelist"))
    assert page.status_code == 200
    assert "苏B11111" in page.content.decode() and "苏B22222" not in page.content.decode()
    page = logged_in.get(reverse("admin:wechat_citizen_changelist")).content.decode()
    assert "苏B11111" in page and "苏B22222" not in page  # the citizen's other plate parked elsewhere
    detail = logged_in.get(reverse("admin:wechat_citizen_change", args=[both.pk])).content.decode()
    assert "苏B11111" in detail and "苏B22222" not in detail
    assert logged_in.get(reverse("admin:wechat_citizen_change", args=[binhu_only.pk])).status_code == 302
    assert logged_in.get(reverse("admin:wechat_notice_changelist") + "?failed=yes").status_code == 200
    # read-only: nobody adds or changes these in the admin
    assert logged_in.get(reverse("admin:wechat_boundplate_add")).status_code == 403


def test_the_menu_command_pushes_the_menu_in_code(fake_wechat, capsys):
    call_command("wechat_sync_menu")
    (call,) = fake_wechat.to("/cgi-bin/menu/create")
    assert call.body == account_menu()
    names = [button["name"] for button in call.body["button"]]
    assert names == ["停车地图", "我的", "服务"]
    assert [b["name"] for b in call.body["button"][2]["sub_button"]] == ["我的车", "缴费", "预约", "投诉"]
    assert json.loads(capsys.readouterr().out) == account_menu()


def test_the_menu_command_reports_a_refusal(fake_wechat):
    fake_wechat.fail("/cgi-bin/menu/create", {"errcode": 40016, "errmsg": "invalid button size"})
    with pytest.raises(CommandError, match="40016"):
        call_command("wechat_sync_menu")


def test_the_admin_button_pushes_the_menu_for_city_staff_and_is_audited(fake_wechat, client, staff_factory):
    city_wide = staff_factory("city")
    client.force_login(city_wide)
    page = client.get(reverse("admin:wechat_notice_changelist")).content.decode()
    assert reverse("admin:wechat_notice_push_menu") in page
    response = client.post(reverse("admin:wechat_notice_push_menu"))
    assert response.status_code == 302
    assert len(fake_wechat.to("/cgi-bin/menu/create")) == 1
    entry = AuditEntry.objects.get(action="wechat.menu_pushed")
    assert entry.actor == city_wide
    assert entry.changes["menu"][1] == account_menu()


def test_a_district_officer_may_not_push_the_menu(fake_wechat, logged_in):
    page = logged_in.get(reverse("admin:wechat_notice_changelist")).content.decode()
    assert reverse("admin:wechat_notice_push_menu") not in page
    assert logged_in.post(reverse("admin:wechat_notice_push_menu")).status_code == 403
    assert not fake_wechat.to("/cgi-bin/menu/create")


def test_city_staff_send_failed_notices_again_and_it_is_audited(fake_wechat, client, staff_factory,
                                                                 django_capture_on_commit_callbacks):
    identity = IdentityFactory(openid="o-failed")
    failed = Notice.objects.create(citizen=identity.citizen, app_id=identity.app_id, openid="o-failed",
                                   channel="template", kind="payment_receipt", template_id="", attempts=5,
                                   state="failed", error="no template configured for payment_receipt",
                                   data={"keyword1": "苏B12345"})
    sent = Notice.objects.create(citizen=identity.citizen, app_id=identity.app_id, openid="o-failed",
                                 channel="template", kind="payment_receipt", template_id="TPL-RECEIPT",
                                 state="sent", attempts=1)
    city_wide = staff_factory("city")
    client.force_login(city_wide)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:wechat_notice_changelist"),
                               {"action": "resend", "_selected_action": [failed.pk, sent.pk]})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.template_id) == ("sent", 1, "TPL-RECEIPT")  # the template now set
    assert len(fake_wechat.to("/cgi-bin/message/template/send")) == 1  # the sent one is not sent again
    assert AuditEntry.objects.get(action="notice.resent").object_id == failed.pk


def test_a_district_officer_may_not_resend_notices(fake_wechat, logged_in, plates_in_two_districts):
    both = plates_in_two_districts[0]
    notice = Notice.objects.get(citizen=both)
    page = logged_in.get(reverse("admin:wechat_notice_changelist")).content.decode()
    assert 'value="resend"' not in page
    logged_in.post(reverse("admin:wechat_notice_changelist"), {"action": "resend", "_selected_action": [notice.pk]})
    notice.refresh_from_db()
    assert notice.state == "failed"
    assert not fake_wechat.to("/cgi-bin/message/template/send")
