"""The admin's login: django-axes locks a username at an address after five failures; staff who must
use a second factor (city-wide, superusers, anyone who can refund) enrol a TOTP device and give its
code at every login (apps/common/mfa.py, apps/common/admin_login.py)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.audit.models import AuditEntry
from apps.common import mfa
from tests.factories import UserFactory
from tests.otp import password_only_login

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
INDEX = "/admin/"
ENROL = "/admin/otp/enrol/"
PASSWORD = "pw-Wuxi-2026!"


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _login(client, username, password=PASSWORD, token="", address="127.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password, "otp_token": token, "next": INDEX},
                       REMOTE_ADDR=address)


@pytest.fixture
def officer_pw(officer):
    officer.set_password(PASSWORD)
    officer.save()
    return officer


def _view_only_staff():
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_parkinglot"))
    user.set_password(PASSWORD)
    user.save()
    return user


# -- who must use a second factor ------------------------------------------------------------------
def test_who_must_use_a_second_factor(staff_factory, officer):
    assert mfa.otp_required(staff_factory("city"))
    assert mfa.otp_required(UserFactory(is_staff=True, is_superuser=True))
    assert mfa.otp_required(officer)  # a district officer may ask for refunds (payments.add_refund)
    assert not mfa.otp_required(_view_only_staff())
    assert not mfa.otp_required(UserFactory(is_staff=False))
    with override_settings(OTP_REQUIRED=False):
        assert not mfa.otp_required(staff_factory("city"))


# -- enrolment -------------------------------------------------------------------------------------
@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)  # a wrong code delays the next try (1 s, doubling) in earnest
def test_a_required_user_without_device_enrols_before_anything_else_opens(client, officer_pw):
    response = _login(client, officer_pw.username)
    assert response.status_code == 302
    assert client.get(INDEX).status_code == 302  # the admin stays shut
    assert client.get(reverse("admin:lots_parkinglot_changelist")).status_code == 302
    assert client.get(LOGIN)["Location"] == ENROL

    page = client.get(ENROL)
    assert page.status_code == 200
    assert "<svg" in page.content.decode()  # the QR code, inline
    device = TOTPDevice.objects.get(user=officer_pw, confirmed=False)
    assert client.post(ENROL, {"otp_token": "000000" if _code(device) != "000000" else "111111"}).status_code == 200
    assert not TOTPDevice.objects.filter(user=officer_pw, confirmed=True).exists()

    done = client.post(ENROL, {"otp_token": _code(device)})
    assert done.status_code == 302 and done["Location"] == INDEX
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(INDEX).status_code == 200
    assert AuditEntry.objects.filter(action="otp.enrolled", actor=officer_pw).exists()


def test_a_password_alone_cannot_add_a_device_to_an_account_that_has_one(client, officer_pw):
    TOTPDevice.objects.create(user=officer_pw, name="phone", confirmed=True)
    password_only_login(client, officer_pw)
    assert client.get(ENROL)["Location"].startswith(LOGIN)
    assert TOTPDevice.objects.filter(user=officer_pw).count() == 1


def test_the_enrolment_page_is_for_staff_only(client):
    password_only_login(client, UserFactory(is_staff=False))
    assert client.get(ENROL)["Location"].startswith(LOGIN)
    assert not TOTPDevice.objects.exists()


# -- the code at login -------------------------------------------------------------------------------
@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)
def test_a_user_with_a_device_gives_its_code_at_login(client, officer_pw):
    device = TOTPDevice.objects.create(user=officer_pw, name="phone", confirmed=True)
    missing = _login(client, officer_pw.username)
    assert missing.status_code == 200 and "请填写验证器应用中的 6 位动态验证码" in missing.content.decode()
    wrong = _login(client, officer_pw.username, token="999999" if _code(device) != "999999" else "888888")
    assert wrong.status_code == 200 and "动态验证码不正确" in wrong.content.decode()
    assert client.get(INDEX).status_code == 302

    ok = _login(client, officer_pw.username, token=_code(device))
    assert ok.status_code == 302 and ok["Location"] == INDEX
    assert client.get(INDEX).status_code == 200


def test_staff_who_need_no_second_factor_log_in_with_the_password(client):
    user = _view_only_staff()
    assert _login(client, user.username).status_code == 302
    assert client.get(INDEX).status_code == 200


def test_demo_mode_without_the_requirement_opens_with_the_password(client, staff_factory):
    user = staff_factory("city")
    user.set_password(PASSWORD)
    user.save()
    with override_settings(OTP_REQUIRED=False):
        assert _login(client, user.username).status_code == 302
        assert client.get(INDEX).status_code == 200


def test_force_login_in_tests_is_a_verified_login(client, staff_factory):
    client.force_login(staff_factory("city"))
    assert client.get(INDEX).status_code == 200


def test_the_reset_command_removes_the_devices_and_is_audited(officer_pw):
    TOTPDevice.objects.create(user=officer_pw, name="phone", confirmed=True)
    out = io.StringIO()
    call_command("otp_reset", username=officer_pw.username, stdout=out)
    assert "removed 1 device" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=officer_pw).exists()
    with pytest.raises(Exception, match="no user"):
        call_command("otp_reset", username="nobody")


# -- lockout ---------------------------------------------------------------------------------------
def test_five_failures_lock_the_username_at_that_address_with_a_chinese_message(client):
    user = _view_only_staff()
    for _ in range(4):
        assert _login(client, user.username, password="wrong").status_code == 200
    assert _login(client, user.username, password="wrong").status_code == 429  # the fifth locks
    locked = _login(client, user.username)  # the right password too, now
    assert locked.status_code == 429
    assert "该账号已在此地址暂时锁定" in locked.content.decode()
    assert client.get(INDEX).status_code == 302
    # the same username from elsewhere, and another username from here, are not locked
    assert _login(client, user.username, address="10.1.2.3").status_code == 302
    client.logout()
    other = _view_only_staff()
    assert _login(client, other.username).status_code == 302


def test_wrong_codes_count_towards_the_lockout(client, officer_pw):
    device = TOTPDevice.objects.create(user=officer_pw, name="phone", confirmed=True)
    wrong = "999999" if _code(device) != "999999" else "888888"
    for _ in range(5):
        _login(client, officer_pw.username, token=wrong)
    assert _login(client, officer_pw.username, token=_code(device)).status_code == 429
