"""Request signing for lot systems (SPEC §3.1): the one implementation the server checks against
and clients (the simulator, benchmarks, tests) sign with.

Pure on purpose: no Django, no settings, no database, so a client can import it alone.

    X-Signature = hex(HMAC-SHA256(secret, METHOD \\n PATH \\n X-Timestamp \\n X-Nonce \\n hex(sha256(body))))

PATH is the request path without the query string; METHOD is upper-case.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

__all__ = [
    "HEADER_ACCESS_KEY",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "NONCE_MAX_LENGTH",
    "NONCE_MIN_LENGTH",
    "body_digest",
    "sign",
    "signature_matches",
    "signed_headers",
    "string_to_sign",
]

HEADER_ACCESS_KEY = "X-Access-Key"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"
NONCE_MIN_LENGTH = 8
NONCE_MAX_LENGTH = 64


def _bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _path_only(path: str) -> str:
    """PATH without the query string; a full URL is reduced to its path."""
    return urlsplit(path).path or "/"


def body_digest(body: bytes | str | None) -> str:
    return hashlib.sha256(_bytes(body)).hexdigest()


def string_to_sign(method: str, path: str, timestamp: int | str, nonce: str, body: bytes | str | None) -> str:
    return "\n".join((method.upper(), _path_only(path), str(timestamp), nonce, body_digest(body)))


def sign(secret: str, method: str, path: str, timestamp: int | str, nonce: str, body: bytes | str | None) -> str:
    """The lowercase hex X-Signature of a request."""
    message = string_to_sign(method, path, timestamp, nonce, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(signature: str, secret: str, method: str, path: str, timestamp: int | str, nonce: str,
                      body: bytes | str | None) -> bool:
    """Constant-time comparison of a received signature with the expected one."""
    expected = sign(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("utf-8", "replace"))


def signed_headers(access_key: str, secret: str, method: str, path: str, body: bytes | str | None, *,
                   timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four SPEC §3.1 headers for one request (a fresh nonce and the current time by default)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    nonce = secrets.token_hex(16) if nonce is None else nonce
    return {
        HEADER_ACCESS_KEY: access_key,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(secret, method, path, timestamp, nonce, body),
    }
