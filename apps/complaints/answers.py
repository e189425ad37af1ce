"""The hotline's answers to the platform's ports (``apps.common.tickets``), registered in
``ComplaintsConfig.ready()``: a citizen's "投诉 …" in WeChat opens a real ticket.

A WeChat ticket keeps the sender's openid as its channel's id (``wx:<openid>#<random>``, so two
tickets of one sender stay distinct), which is how the account tells its sender of public status
changes (``caller_openid``). Its phone is the one the sender wrote in the text, if any: without
one, the account's notices are the follow-up.
"""

from __future__ import annotations

import secrets

from django.urls import reverse

from apps.common import tickets
from apps.common.errors import DomainError

from . import public, services
from .models import Channel, Ticket

#: the category of a WeChat ticket until staff categorise it (the sender writes free text)
WECHAT_CATEGORY = "other"
_WECHAT_PREFIX = "wx:"
#: the hotline's web form, where wuxi_parking.urls mounts apps.complaints.urls (no URL lookups at ready())
FORM_PATH = "/hotline/"


def _external_id(openid: str) -> str:
    value = f"{_WECHAT_PREFIX}{openid}#{secrets.token_hex(4)}"
    return value if len(value) <= 64 else ""


def caller_openid(ticket: Ticket) -> str:
    """The WeChat openid of whoever opened ``ticket`` through the account ("" for other tickets)."""
    if ticket.channel != Channel.WECHAT or not ticket.external_id.startswith(_WECHAT_PREFIX):
        return ""
    return ticket.external_id[len(_WECHAT_PREFIX):].rsplit("#", 1)[0]


def _phone_in(text: str) -> str:
    found = public.PHONE.search(text or "")
    if found is None:
        return ""
    try:
        return services.phone_normalize(found.group(0))
    except DomainError:
        return ""


def _plate_in(request: tickets.TicketRequest) -> str:
    """The sender's own plate the text names (the ticket is about their stay), else none."""
    text = (request.text or "").upper().replace(" ", "")
    return next((plate for plate in request.plates if plate in text), "")


def ticket_open(request: tickets.TicketRequest) -> tickets.TicketReceipt:
    """Open the ticket a WeChat message asks for; a bad text raises the hotline's ``DomainError``."""
    ticket = services.ticket_create(
        channel=Channel.WECHAT, category=WECHAT_CATEGORY, description=request.text,
        phone=_phone_in(request.text), plate=_plate_in(request),
        external_id=_external_id(request.openid) if request.openid else "", user=request.user)
    return tickets.TicketReceipt(ticket_no=ticket.ticket_no, respond_by=ticket.respond_by)


def register() -> None:
    tickets.register_ticket_opener(ticket_open, form_path=FORM_PATH)


def track_path(ticket: Ticket) -> str:
    """The public follow-up page of ``ticket``."""
    return reverse("complaints:track") + "?no=" + ticket.ticket_no
