"""Asking for a notice to a citizen (issue 10: payment receipts, pay-later charges, arrears reminders,
reservation confirmations, reminders and no-shows, hotline status changes).

Notices go out through the WeChat official account (``apps.wechat``), which sits above payments,
reservations and the hotline: they ask through this port and never import it. ``apps.wechat``
registers its answer in ``AppConfig.ready()`` with ``register_notifier``. A notice is asked for
inside the caller's transaction; it is recorded with it and sent after commit, so a rolled-back
payment sends no receipt and a slow or absent WeChat never holds a request. With nothing
registered (or notices turned off) asking costs nothing and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: the kinds of notice a caller may ask for; each has a template configured for it
PAYMENT_RECEIPT = "payment_receipt"
PAY_LATER_CHARGE = "pay_later_charge"
ARREARS_REMINDER = "arrears_reminder"
RESERVATION_CONFIRMED = "reservation_confirmed"
RESERVATION_REMINDER = "reservation_reminder"
RESERVATION_NO_SHOW = "reservation_no_show"
TICKET_STATUS = "ticket_status"
KINDS = (PAYMENT_RECEIPT, PAY_LATER_CHARGE, ARREARS_REMINDER, RESERVATION_CONFIRMED, RESERVATION_REMINDER,
         RESERVATION_NO_SHOW, TICKET_STATUS)


@dataclass(frozen=True)
class NoticeRequest:
    """Who is told (a user, or whoever holds ``plate``), what kind of notice, its template fields
    (``{"keyword1": "苏B12345", ...}``: plain strings) and the page it opens (a path or URL)."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)
    user: Any = None
    plate: str | None = None
    url: str = ""


Notifier = Callable[[NoticeRequest], None]

_notifier: Notifier | None = None


def register_notifier(notifier: Notifier | None) -> None:
    """``notifier(request)`` records the notice and sends it after commit. ``None`` removes it."""
    global _notifier
    _notifier = notifier


def notify(*, kind: str, data: Mapping[str, Any] | None = None, user=None, plate: str | None = None,
           url: str = "") -> None:
    """Ask for a notice. Raises ``ValueError`` for an unknown kind or neither a user nor a plate."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    if user is None and not plate:
        raise ValueError("a notice is for a user or a plate's holder")
    if _notifier is None:
        return
    _notifier(NoticeRequest(kind=kind, data=dict(data or {}), user=user, plate=plate, url=url))
