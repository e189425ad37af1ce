"""The notices the account sends on its own: template messages asked for through
``apps.common.notices`` and customer-service messages answering deferred work. Each is a
``Notice`` row (staff see what was sent and what failed), sent by a task after commit."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.common import notices
from apps.common.notices import NoticeRequest

from .models import Notice, WechatIdentity

logger = logging.getLogger(__name__)

_ERROR_MAX = 512


def notices_enabled() -> bool:
    return bool(settings.WECHAT_NOTICES and settings.WECHAT_APP_ID)


def notice_schedule(notice: Notice) -> None:
    """Send ``notice`` by a task once the current transaction commits."""
    from .tasks import send_notice

    notice_id = notice.pk
    transaction.on_commit(lambda: send_notice.delay(notice_id))


def _recipients(request: NoticeRequest):
    """The official-account identities of whom the notice is for: the user, or the plate's holder."""
    who = Q(citizen__user=request.user) if request.user is not None else Q(citizen__plates__plate=request.plate)
    return WechatIdentity.objects.filter(who, app_id=settings.WECHAT_APP_ID).select_related("citizen")


def notice_request(request: NoticeRequest) -> list[Notice]:
    """The answer to ``apps.common.notices``'s port: a row per recipient, sent after the caller's
    transaction commits. A kind without a configured template is recorded as failed, so staff see
    what is not reaching citizens."""
    if not notices_enabled():
        return []
    template_id = settings.WECHAT_NOTICE_TEMPLATES.get(request.kind, "")
    made = []
    for identity in _recipients(request):
        notice = Notice.objects.create(
            citizen=identity.citizen, app_id=identity.app_id, openid=identity.openid,
            channel=Notice.Channel.TEMPLATE, kind=request.kind, template_id=template_id,
            data={key: str(value) for key, value in request.data.items()}, url=request.url[:512],
            state=Notice.State.QUEUED if template_id else Notice.State.FAILED,
            error="" if template_id else f"no template configured for {request.kind}")
        if template_id:
            notice_schedule(notice)
        made.append(notice)
    return made


def reply_queue(*, openid: str, text: str) -> Notice:
    """A customer-service message to ``openid`` (the answer to work that took too long to answer)."""
    identity = WechatIdentity.objects.filter(app_id=settings.WECHAT_APP_ID, openid=openid).first()
    notice = Notice.objects.create(citizen=identity.citizen if identity else None, app_id=settings.WECHAT_APP_ID,
                                   openid=openid, channel=Notice.Channel.CUSTOMER_SERVICE, kind=Notice.KIND_REPLY,
                                   data={"text": text})
    notice_schedule(notice)
    return notice


def notice_send(notice: Notice, client) -> str:
    """Send ``notice`` with wechatpy's ``client``; returns WeChat's message id (may be empty)."""
    if notice.channel == Notice.Channel.CUSTOMER_SERVICE:
        result = client.message.send_text(notice.openid, notice.data.get("text", ""))
    else:
        data = {key: {"value": value} for key, value in notice.data.items()}
        url = notice.url
        if url.startswith("/"):
            url = settings.WECHAT_SITE_URL + url
        result = client.message.send_template(notice.openid, notice.template_id, data, url=url or None)
    return str((result or {}).get("msgid", "") if isinstance(result, dict) else "")


def notice_mark(*, notice_id: int, sent: bool, error: str = "", msgid: str = "", final: bool = True) -> None:
    """Record one attempt: sent, or failed (``final``: no retry left; else it stays queued)."""
    fields = {"attempts": F("attempts") + 1}
    if sent:
        fields.update(state=Notice.State.SENT, sent_at=timezone.now(), wechat_msgid=msgid[:64], error="")
    else:
        fields.update(state=Notice.State.FAILED if final else Notice.State.QUEUED, error=error[:_ERROR_MAX])
    Notice.objects.filter(pk=notice_id).update(**fields)


def ticket_status_notice(kind: str, ticket, change) -> None:
    """The answer to the hotline's notice port (``apps.complaints.ports``), called after commit:
    a public status change of a ticket is told to the citizen who filed it, through the account,
    whichever channel it came through: the account's user the ticket names (filed logged in on the
    web, or through WeChat), else the sender of a WeChat ticket. The ticket's opening is not told:
    the form's answer or the account's reply already gave its number."""
    from apps.complaints import answers, ports

    if kind != ports.NOTICE_STATUS or not change.public or not change.from_state:
        return
    user = ticket.user_id
    if user is None:
        openid = answers.caller_openid(ticket)
        identity = (WechatIdentity.objects.filter(app_id=settings.WECHAT_APP_ID, openid=openid)
                    .select_related("citizen").first() if openid else None)
        if identity is None:
            return
        user = identity.citizen.user_id
    notices.notify(kind=notices.TICKET_STATUS, user=user, url=answers.track_path(ticket),
                   data={"ticket_no": ticket.ticket_no, "state": str(change.get_state_display()),
                         "note": (change.note or "")[:200], "at": timezone.localtime(change.at).isoformat()})
