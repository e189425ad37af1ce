"""The second factor in tests: ``force_login`` stands for a full login, password and TOTP code.

tests/conftest.py makes every test client's ``force_login`` also verify the session with a confirmed
TOTP device when the user must use one (apps/common/mfa.py), so admin tests written before the
second factor keep logging in as they did. ``password_only_login`` is the login without it.
"""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

_plain_force_login = Client.force_login


def password_only_login(client, user) -> None:
    """Logged in with the password alone: the admin shows an OTP-required user only the enrolment page."""
    _plain_force_login(client, user)


def otp_verify(client, user, device=None):
    """Verify ``client``'s session with ``device`` (a new confirmed TOTP device of ``user`` by default)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = device or TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def force_login_verified(client, user, backend=None) -> None:
    _plain_force_login(client, user, backend)
    from apps.common.mfa import otp_required

    fresh = type(user)._default_manager.get(pk=user.pk)  # the test's own object keeps no cached scope or perms
    if otp_required(fresh):
        otp_verify(client, fresh)


def totp_code(device) -> str:
    """The code ``device``'s authenticator app shows now."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
