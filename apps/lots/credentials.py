"""Device credentials. The signature is an HMAC with the secret, so the platform must be able to
recover the secret: it is stored encrypted (Fernet, key from settings), never in plain text, and
shown to staff exactly once when issued."""

from __future__ import annotations

import hashlib
import secrets

from cryptography.fernet import Fernet
from django.conf import settings


def new_access_key() -> str:
    return "AK" + secrets.token_hex(10).upper()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _fernet() -> Fernet:
    return Fernet(settings.DEVICE_SECRET_FERNET_KEY)


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag staff can compare with what a lot system holds."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]
