"""Authenticating lot systems by their request signature (SPEC §3.1).

Checks, in this order, each refusing with 401 and its code:

1. ``X-Access-Key`` names a device that is not revoked — ``unknown_key``; also when the device's
   stored secret can no longer be decrypted (the key derived from ``SECRET_KEY`` or
   ``DEVICE_SECRET_KEY`` changed): nothing can verify its requests until staff re-issue the secret,
   which the message says and an error in the log tells operations;
2. ``X-Timestamp`` is Unix seconds within ``INGEST_TIMESTAMP_TOLERANCE_S`` of the server clock —
   ``stale_request`` (a missing or non-numeric timestamp too);
3. ``X-Nonce`` (8–64 characters) and ``X-Signature`` are present and the signature is the HMAC of
   this request with the device's secret — ``bad_signature``;
4. the nonce has not been used by this key in the last ``INGEST_NONCE_TTL_S`` seconds —
   ``replayed_request``.

The nonce is recorded only after the signature has been verified, so a forged request cannot burn
a nonce the real lot system is about to use. It is recorded with ``cache.add`` (atomic: only the
first of two racing requests succeeds) in the configured cache, which is Redis in production and so
shared by every server process; the key is scoped by access key. When the cache is unreachable the
nonce is recorded in the database instead (``nonces``), so ingest goes on, replay protection
included.
"""

from __future__ import annotations

import logging
import re
import time

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission

from apps.common.db import retry_once_if_connection_lost
from apps.lots.credentials import decrypt_secret
from apps.lots.models import Device
from apps.lots.selectors import device_by_access_key

from . import signing
from .nonces import nonce_cache_key, nonce_claim

__all__ = ["DeviceSignatureAuthentication", "IsSignedDevice", "SignatureRejected", "authenticate_device",
           "nonce_cache_key"]

AUTH_SCHEME = "WXP-HMAC-SHA256"
# What an access key can look like (``credentials.new_access_key``: "AK" + hex). Anything else is
# unknown without asking the database, which would refuse a NUL in a query parameter with an error.
_ACCESS_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,32}")

logger = logging.getLogger(__name__)


class SignatureRejected(APIException):
    """A 401 with one of SPEC §3.1's codes (rendered by the API's one exception handler)."""

    status_code = 401
    default_code = "bad_signature"

    def __init__(self, code: str, message: str):
        super().__init__(detail=message, code=code)
        self.default_code = code
        self.auth_header = f'{AUTH_SCHEME} realm="ingest"'


def authenticate_device(*, method: str, path: str, headers, body: bytes, now: float | None = None) -> Device:
    """The device that signed this request, or ``SignatureRejected``."""
    now = time.time() if now is None else now
    access_key = (headers.get(signing.HEADER_ACCESS_KEY) or "").strip()
    device = (retry_once_if_connection_lost(lambda: device_by_access_key(access_key))
              if _ACCESS_KEY_SHAPE.fullmatch(access_key) else None)
    if device is None or device.is_revoked:
        raise SignatureRejected("unknown_key", _("未知或已吊销的接入密钥"))

    timestamp = (headers.get(signing.HEADER_TIMESTAMP) or "").strip()
    if not timestamp.isdigit() or abs(now - int(timestamp)) > settings.INGEST_TIMESTAMP_TOLERANCE_S:
        raise SignatureRejected("stale_request", _("X-Timestamp 缺失或与平台时间相差超过 %(s)d 秒") % {
            "s": settings.INGEST_TIMESTAMP_TOLERANCE_S})

    nonce = headers.get(signing.HEADER_NONCE) or ""
    signature = headers.get(signing.HEADER_SIGNATURE) or ""
    if not signing.NONCE_MIN_LENGTH <= len(nonce) <= signing.NONCE_MAX_LENGTH:
        raise SignatureRejected("bad_signature", _("X-Nonce 应为 8–64 个字符"))
    try:
        secret = decrypt_secret(device.secret_encrypted)
    except InvalidToken:
        logger.error("ingest: the secret of access key %s cannot be decrypted (SECRET_KEY or DEVICE_SECRET_KEY "
                     "changed since it was issued); re-issue the secret", device.access_key)
        raise SignatureRejected("unknown_key", _("该接入密钥已失效，请联系平台重新签发密钥"))
    if not signature or not signing.signature_matches(signature, secret, method, path, timestamp, nonce, body):
        raise SignatureRejected("bad_signature", _("签名错误"))

    if not nonce_claim(device=device, nonce=nonce):
        raise SignatureRejected("replayed_request", _("该 X-Nonce 已在 %(m)d 分钟内使用过") % {
            "m": settings.INGEST_NONCE_TTL_S // 60})
    return device


class DeviceSignatureAuthentication(BaseAuthentication):
    """DRF authentication for ingest: ``request.auth`` is the signing ``Device``.

    It never returns None: an unsigned request is refused with the code of what is missing.
    """

    def authenticate(self, request):
        device = authenticate_device(method=request.method, path=request.path, headers=request.headers,
                                     body=request.body)
        return AnonymousUser(), device

    def authenticate_header(self, request):
        return f'{AUTH_SCHEME} realm="ingest"'


class IsSignedDevice(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, Device)


class DeviceSignatureScheme(OpenApiAuthenticationExtension):
    target_class = DeviceSignatureAuthentication
    name = "deviceSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": signing.HEADER_ACCESS_KEY,
            "description": (
                "SPEC §3.1: X-Access-Key, X-Timestamp (Unix seconds), X-Nonce (8–64 chars) and X-Signature = "
                "lowercase hex HMAC-SHA256(secret, METHOD\\nPATH\\nX-Timestamp\\nX-Nonce\\nhex(sha256(body))), "
                "PATH without the query string."
            ),
        }
