"""The unified payment code (一个无锡停车支付码): one QR code per lot and per on-street berth that
opens ``/pay/<lot code>/`` (``?berth=<code>`` for a berth), printed from the admin."""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from django.conf import settings
from django.urls import reverse


def pay_path(lot_code: str, berth_code: str | None = None) -> str:
    path = reverse("payments:pay-page", args=[lot_code])
    return f"{path}?{urlencode({'berth': berth_code})}" if berth_code else path


def pay_url(request, lot_code: str, berth_code: str | None = None) -> str:
    path = pay_path(lot_code, berth_code)
    base = settings.PUBLIC_BASE_URL
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def qr_svg(data: str, *, scale: int = 4) -> str:
    """An inline SVG of ``data`` (error correction M: a printed code survives some wear)."""
    return segno.make(data, error="m").svg_inline(scale=scale, border=2)
