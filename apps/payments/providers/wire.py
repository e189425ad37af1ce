"""Small pieces every gateway's wire format needs: fen ↔ yuan, local times, headers looked up
case-insensitively, the freshness of a signed timestamp, statement files as text, and RSA
keys and signatures. Kept here so each provider module holds only its gateway's rules."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .base import Ack, NotConfigured, NoticeRefused

SHANGHAI = ZoneInfo("Asia/Shanghai")


def yuan(amount_fen: int) -> str:
    """12345 → ``"123.45"``: the decimal yuan string gateways that count in yuan expect."""
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


def fen(amount_yuan: str) -> int:
    """``"123.45"`` (or ``-123.45``, with stray spaces) → 12345 fen. A third decimal is refused
    rather than rounded: money is never guessed."""
    try:
        value = Decimal(str(amount_yuan).strip()) * 100
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount_yuan!r}") from None
    if value != value.to_integral_value():
        raise ValueError(f"more than two decimals: {amount_yuan!r}")
    return int(value)


def local(dt: datetime) -> datetime:
    return dt.astimezone(SHANGHAI)


def iso(dt: datetime) -> str:
    """RFC 3339 in Beijing time, seconds only (``2026-03-17T09:42:44+08:00``)."""
    return local(dt).replace(microsecond=0).isoformat()


def compact(dt: datetime) -> str:
    """``YYYYMMDDhhmmss`` in Beijing time (UnionPay's ``txnTime``)."""
    return local(dt).strftime("%Y%m%d%H%M%S")


def parse_time(text: str, fmt: str | None = None) -> datetime | None:
    """An aware time from a gateway: RFC 3339 with an offset, or ``fmt`` read as Beijing time.
    Empty → ``None``."""
    text = (text or "").strip()
    if not text:
        return None
    if fmt:
        return datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def time_or_none(text: Any, fmt: str | None = None) -> datetime | None:
    """``parse_time`` for a field of a verified message: unreadable is unknown, not an error."""
    try:
        return parse_time(str(text or ""), fmt)
    except ValueError:
        return None


def whole_fen(value: Any) -> int | None:
    """A JSON amount in fen: an integer (not a bool), else unknown."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def form_fields(body: bytes) -> dict[str, str]:
    """A notice's ``application/x-www-form-urlencoded`` body, or a refusal."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise NoticeRefused("body is not a UTF-8 form") from None


def json_refusal(message: str) -> Ack:
    """SPEC §7's refusal body, ``{"code": "FAIL", "message": ...}``, as a 400."""
    return Ack(status=400, body=json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False).encode(),
               content_type="application/json")


def headers_of(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers by lower-case HTTP name, whether given as HTTP names (``Wechatpay-Nonce``) or as
    WSGI ``META`` keys (``HTTP_WECHATPAY_NONCE``)."""
    out = {}
    for key, value in headers.items():
        name = str(key).lower().replace("_", "-")
        if name.startswith("http-"):
            name = name[5:]
        out[name] = str(value)
    return out


def is_fresh(timestamp: str, max_age_s: int) -> bool:
    """Whether a signed Unix timestamp is within ``max_age_s`` of now (either way)."""
    try:
        return abs(time.time() - int(timestamp)) <= max_age_s
    except (TypeError, ValueError):
        return False


def statement_text(file: Any) -> str:
    """A statement as text: bytes, str or a file object (binary or text). Gateways issue UTF-8
    (WeChat, often with a BOM) or GBK (Alipay's downloads)."""
    data = file.read() if hasattr(file, "read") else file
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


# --- RSA -----------------------------------------------------------------------------------------
def _pem(text: str, kind: str) -> bytes:
    """PEM text from settings; bare base64 (as gateways' consoles hand keys out) gets its armour."""
    text = (text or "").strip().replace("\\n", "\n")
    if not text.startswith("-----BEGIN"):
        text = f"-----BEGIN {kind}-----\n{text}\n-----END {kind}-----"
    return text.encode()


def private_key(text: str, setting: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(_pem(text, "PRIVATE KEY"), password=None)
    except (ValueError, TypeError):
        raise NotConfigured(f"{setting} is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise NotConfigured(f"{setting} is not an RSA key")
    return key


def public_key(text: str, setting: str) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key or a PEM certificate."""
    raw = (text or "").strip()
    try:
        if "CERTIFICATE" in raw:
            key = x509.load_pem_x509_certificate(_pem(raw, "CERTIFICATE")).public_key()
        else:
            key = serialization.load_pem_public_key(_pem(raw, "PUBLIC KEY"))
    except (ValueError, TypeError):
        raise NotConfigured(f"{setting} is not a PEM public key or certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise NotConfigured(f"{setting} is not an RSA key")
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
