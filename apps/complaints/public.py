"""What of a ticket may be shown to the public (SPEC §8.2, Open311): never a phone, a name or a
plate. A caller's own words may hold them, so the description is redacted before it is shown."""

from __future__ import annotations

import re

from apps.common.plates import PROVINCES

from . import workflow
from .models import Ticket

PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
_PLATE = re.compile(rf"[{PROVINCES}]\s*[A-Za-z][\s·•-]?[A-Za-z0-9]{{4,6}}[警学挂港澳领试超]?")
REDACTED = "***"


def redact(text: str, *, ticket: Ticket | None = None) -> str:
    """``text`` without phone numbers, plates, or the ticket's own caller name, phone and plate."""
    if not text:
        return ""
    if ticket is not None:
        for secret in (ticket.phone, ticket.caller_name, ticket.plate):
            if secret and len(secret) >= 2:
                text = text.replace(secret, REDACTED)
    text = PHONE.sub(REDACTED, text)
    return _PLATE.sub(REDACTED, text)


def open311_status(state: str) -> str:
    return "closed" if state in workflow.DONE_STATES else "open"


def unit_name(ticket: Ticket) -> str | None:
    return ticket.unit.name if ticket.unit_id else None
