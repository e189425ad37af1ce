"""Celery tasks of the WeChat account: notices sent after commit, retried with backoff, and the
answers to work too slow for WeChat's five seconds."""

from __future__ import annotations

import logging

import requests
from celery import shared_task
from django.conf import settings
from django.utils import translation
from wechatpy.exceptions import WeChatClientException

from .errors import WechatNotConfigured
from .models import Notice

logger = logging.getLogger(__name__)

#: attempts of a notice before it is recorded as failed; the waits double from RETRY_FIRST_S
MAX_ATTEMPTS = 5
RETRY_FIRST_S = 10
RETRY_MAX_S = 600


def retry_delay(attempt: int) -> int:
    return min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** max(0, attempt - 1))


@shared_task(bind=True, max_retries=MAX_ATTEMPTS - 1, ignore_result=True)
def send_notice(self, notice_id: int) -> None:
    from .client import official_account
    from .notices import notice_mark, notice_send

    notice = Notice.objects.filter(pk=notice_id, state=Notice.State.QUEUED).first()
    if notice is None:
        return  # sent already (a task delivered twice), or given up
    try:
        msgid = notice_send(notice, official_account())
    except (WeChatClientException, requests.RequestException, WechatNotConfigured) as exc:
        attempt = notice.attempts + 1
        final = isinstance(exc, WechatNotConfigured) or attempt >= MAX_ATTEMPTS or _permanent(exc)
        notice_mark(notice_id=notice_id, sent=False, error=_describe(exc), final=final)
        logger.warning("wechat notice %s failed (attempt %s): %s", notice_id, attempt, _describe(exc))
        if not final:
            if self.request.is_eager:
                # Tests and the embedded default run tasks inline: retry at once, not after a wait.
                return send_notice.apply(args=(notice_id,))
            raise self.retry(countdown=retry_delay(attempt), exc=exc) from exc
        return
    notice_mark(notice_id=notice_id, sent=True, msgid=msgid)


def _permanent(exc: Exception) -> bool:
    """WeChat refusals a retry cannot fix: the user unfollowed (43004), a bad openid (40003), a
    template id that is not ours (40037), the 48-hour customer-service window closed (45015)."""
    return isinstance(exc, WeChatClientException) and getattr(exc, "errcode", None) in {40003, 40037, 43004, 45015}


def _describe(exc: Exception) -> str:
    if isinstance(exc, WeChatClientException) and exc.errcode is not None:
        return f"{exc.errcode}: {exc.errmsg}"
    return f"{type(exc).__name__}: {exc}"


@shared_task(ignore_result=True)
def answer_later(payload: dict) -> None:
    """Work out a deferred answer and send it as a customer-service message."""
    from .conversation import Inbound
    from .conversation import answer_later as later
    from .notices import reply_queue

    inbound = Inbound(**payload)
    with translation.override(settings.LANGUAGE_CODE):
        text = later(inbound)
    reply_queue(openid=inbound.openid, text=text)

