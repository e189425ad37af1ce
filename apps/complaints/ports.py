"""What the hotline asks of apps above it, as small registered answers (STYLE.md "Ports").

- **Notices.** The WeChat work tells the caller about each public status change, and the unit or
  supervisor about warnings and escalations. It registers ``register_notice_sender(fn)``; the
  services call ``fn(kind, ticket, change)`` after commit. With nothing registered, no notice goes.
- **Refunds.** A fee dispute can start a refund where payments has landed: payments registers
  ``register_refund_starter(fn)``; ``fn(ticket=, session=, actor=)`` opens the refund request and
  returns its reference. With nothing registered, ``ticket_start_refund`` refuses with
  ``refunds_unavailable`` (apps.complaints never imports apps.payments).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: the kinds of notice: a public status change for the caller; a warning or escalation for staff
NOTICE_STATUS = "status"
NOTICE_WARNING = "warning"
NOTICE_ESCALATION = "escalation"

NoticeSender = Callable[[str, object, object], None]
RefundStarter = Callable[..., str]

_notice_senders: list[NoticeSender] = []
_refund_starter: RefundStarter | None = None


def register_notice_sender(sender: NoticeSender) -> None:
    if sender not in _notice_senders:
        _notice_senders.append(sender)


def unregister_notice_sender(sender: NoticeSender) -> None:
    if sender in _notice_senders:
        _notice_senders.remove(sender)


def send_notice(kind: str, ticket, change) -> None:
    """Called after commit: a failing sender is logged and never undoes the change."""
    for sender in list(_notice_senders):
        try:
            sender(kind, ticket, change)
        except Exception:
            logger.exception("hotline notice %s for %s failed", kind, ticket)


def register_refund_starter(starter: RefundStarter | None) -> None:
    global _refund_starter
    _refund_starter = starter


def refund_starter() -> RefundStarter | None:
    return _refund_starter
