"""Opening a hotline ticket from a WeChat message (issue 10: "投诉 …" → a ticket with its number).

The hotline (``apps.complaints``) owns tickets; the WeChat account asks through this port, so the
two can be built and deployed apart. The hotline registers its answer in ``AppConfig.ready()`` with
``register_ticket_opener`` and may name its web form's path. With nothing registered the account
answers with the web form's path (``form_path()``) instead of a ticket number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TicketRequest:
    """What a citizen sent: the text after 投诉, who sent it (their WeChat openid, and the platform
    user when they have one) and their bound plates."""

    text: str
    openid: str
    user: Any = None
    plates: tuple[str, ...] = ()


@dataclass(frozen=True)
class TicketReceipt:
    ticket_no: str
    respond_by: datetime | None = None


TicketOpener = Callable[[TicketRequest], TicketReceipt]

#: the hotline's web form until the hotline names its own
DEFAULT_FORM_PATH = "/complaints/new/"

_opener: TicketOpener | None = None
_form_path = DEFAULT_FORM_PATH


def register_ticket_opener(opener: TicketOpener | None, *, form_path: str | None = None) -> None:
    """``opener(request)`` opens the ticket (in its own transaction) and returns its receipt, or
    raises ``apps.common.errors.DomainError`` with a message the citizen may read."""
    global _opener, _form_path
    _opener = opener
    _form_path = form_path or DEFAULT_FORM_PATH


def ticket_opener() -> TicketOpener | None:
    return _opener


def form_path() -> str:
    return _form_path
