"""A second factor (TOTP, django-otp) for the staff who can do the most harm from the admin.

Required for city-wide staff (and superusers) and for anyone holding a permission named in
``OTP_REQUIRED_PERMISSIONS`` (asking for and approving refunds); optional for the rest, who may
enrol all the same. ``OTP_REQUIRED`` turns the requirement off only in the embedded demo city
(DEBUG on SQLite): the production settings refuse it.

A member of staff who must use a second factor and has no device yet logs in with their password
and is taken to the enrolment page, where nothing else of the admin opens until they have scanned
the QR code and entered a code from it. Once a device is confirmed, the login form asks for a code
too; a wrong code counts as a failed login (django-axes locks the account and address after a few).
"""

from __future__ import annotations

from django.conf import settings
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from .scope import scope_of

DEVICE_NAME = "admin"


def otp_required(user) -> bool:
    """Whether ``user`` must pass a second factor to use the admin."""
    if not getattr(settings, "OTP_REQUIRED", True):
        return False
    if user is None or not user.is_authenticated or not user.is_staff:
        return False
    if user.is_superuser or scope_of(user).city_wide:
        return True
    return any(user.has_perm(permission) for permission in settings.OTP_REQUIRED_PERMISSIONS)


def is_verified(user) -> bool:
    """This session passed a device of the user's (django_otp's middleware says so)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def satisfied(request) -> bool:
    """The admin may open for this request as far as the second factor goes."""
    user = request.user
    # Optional for the rest: one who enrolled is asked for a code by the login form, which is the only
    # way into a session (no query a request here for those who never enrolled).
    return is_verified(user) or not otp_required(user)


def needs_enrolment(request) -> bool:
    """Logged in with a password, required to use a second factor and without a device: enrol first."""
    user = request.user
    return (user.is_authenticated and user.is_active and user.is_staff and not is_verified(user)
            and otp_required(user) and not user_has_device(user, confirmed=True))


def may_enrol(request) -> bool:
    """Adding a device takes a verified session, except for the first one of a password-only account."""
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return is_verified(user) or not user_has_device(user, confirmed=True)


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device the enrolment page shows (the same one until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code (segno, no image library)."""
    import segno

    return segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#111", light="#fff")


def devices_reset(*, user, actor=None) -> int:
    """Remove every TOTP device of ``user`` (a lost phone): they enrol again at their next login."""
    from apps.audit.services import audit_record

    count, _ = TOTPDevice.objects.filter(user=user).delete()
    audit_record(action="otp.reset", actor=actor, obj=user, changes={"devices": [count, 0]})
    return count


def secret_b32(device: TOTPDevice) -> str:
    """The key as an authenticator app takes it typed in (base32, in groups of four)."""
    from base64 import b32encode

    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def device_confirm(*, device: TOTPDevice, request) -> TOTPDevice:
    """The code from the app matched: the device is the user's second factor from now on."""
    from apps.audit.services import audit_record

    from .actor import Actor

    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user, confirmed=False).exclude(pk=device.pk).delete()
    audit_record(action="otp.enrolled", actor=Actor.from_request(request), obj=device.user,
                 changes={"device": [None, device.name]})
    return device
