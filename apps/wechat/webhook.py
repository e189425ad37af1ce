"""``/wechat/`` (SPEC §7): WeChat's server verification (GET) and its messages (POST), plain or in
safe mode (AES), verified with ``WECHAT_TOKEN``; a bad or missing signature is 403.

WeChat retries a message it got no answer to within five seconds, three times. Each message is
acted on once across all server processes: the first request to claim its key in the shared cache
(``MsgId``; an event's ``FromUserName`` + ``CreateTime``) handles it and leaves its reply there; a
retry gets that reply, or ``success`` while the first is still at work. While the cache is
unreachable the keys are claimed in the database instead. Work that may take longer
is answered ``success`` at once and finished by a task that sends a customer-service message.
Anything WeChat sends that the account cannot read is answered ``success``: nothing changes and
WeChat does not retry it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from apps.common.cache import cache_add, cache_delete, cache_get, cache_set

from .conversation import Answer, Inbound, answer
from .models import SeenMessage

logger = logging.getLogger(__name__)

SUCCESS = "success"
#: how long a message's key is remembered: past WeChat's last retry (about 15 s after the first)
SEEN_S = 600
MAX_BODY_BYTES = 64 * 1024


def _forbidden() -> HttpResponse:
    return HttpResponseForbidden("invalid signature", content_type="text/plain; charset=utf-8")


def _text(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request):
    token = settings.WECHAT_TOKEN
    query = request.GET
    if not token:
        return _forbidden()  # no token configured: nothing can be verified
    try:
        check_signature(token, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
    except InvalidSignatureException:
        return _forbidden()
    if request.method == "GET":
        return _text(query.get("echostr", ""))
    if len(request.body) > MAX_BODY_BYTES:
        return _text(SUCCESS)
    safe_mode = query.get("encrypt_type", "raw").lower() == "aes"
    crypto = None
    xml = request.body
    if safe_mode:
        if not settings.WECHAT_ENCODING_AES_KEY:
            return _forbidden()
        crypto = WeChatCrypto(token, settings.WECHAT_ENCODING_AES_KEY, settings.WECHAT_APP_ID)
        try:
            xml = crypto.decrypt_message(request.body, query.get("msg_signature", ""), query.get("timestamp", ""),
                                         query.get("nonce", ""))
        except (InvalidSignatureException, InvalidAppIdException):
            return _forbidden()
        except Exception:  # malformed XML or ciphertext: nothing to act on, and nothing to retry
            logger.warning("wechat: an encrypted message that could not be read")
            return _text(SUCCESS)
    try:
        message = parse_message(xml)
    except Exception:
        logger.warning("wechat: a message that could not be parsed")
        return _text(SUCCESS)
    reply = handle(message)
    if reply is None:
        return _text(SUCCESS)
    if crypto is not None:
        reply = crypto.encrypt_message(reply, query.get("nonce", ""), query.get("timestamp", ""))
    return HttpResponse(reply, content_type="application/xml; charset=utf-8")


def message_key(message) -> str | None:
    """What identifies a message across WeChat's retries: its MsgId, an event's sender and time."""
    raw = getattr(message, "_data", {}) or {}
    if raw.get("MsgId"):
        key = f"msg:{raw['MsgId']}"
    elif raw.get("FromUserName") and raw.get("CreateTime"):
        key = f"event:{raw['FromUserName']}:{raw['CreateTime']}"
    else:
        return None
    return "wechat:seen:" + hashlib.sha256(key.encode()).hexdigest()


def inbound_of(message) -> Inbound | None:
    openid = getattr(message, "source", None)
    if not openid:
        return None
    raw = getattr(message, "_data", {}) or {}
    kind = str(raw.get("MsgType", "") or "").lower()  # wechatpy calls the events it does not know "unknown"
    if kind == "text":
        return Inbound(openid=openid, type="text", content=message.content or "")
    if kind == "location":
        try:
            return Inbound(openid=openid, type="location", lat=float(message.location_x),
                           lon=float(message.location_y))
        except (TypeError, ValueError):
            return Inbound(openid=openid, type="unknown")
    if kind == "event":
        return Inbound(openid=openid, type="event", event=str(raw.get("Event", "") or ""),
                       key=str(raw.get("EventKey", "") or ""))
    return Inbound(openid=openid, type=kind or "unknown")


def handle(message) -> str | None:
    """The reply XML for a parsed message (None: answer ``success``), acting on it once."""
    inbound = inbound_of(message)
    if inbound is None:
        return None
    key = message_key(message)
    if key is not None:
        claimed = cache_add(key, "", timeout=SEEN_S)
        if claimed is False:  # a retry, or the same message at another process
            return cache_get(key) or None
        if not (_claim_in_database(key) if claimed is None else _unseen_in_database(key)):
            return None
    try:
        with translation.override(settings.LANGUAGE_CODE):
            result = _answer(inbound)
    except Exception:
        if key is not None:
            cache_delete(key)  # nothing was done: WeChat's retry may try again
        raise
    reply = None
    if result.text:
        reply = TextReply(source=message.target, target=message.source, content=result.text).render()
    if key is not None and reply is not None:
        cache_set(key, reply, timeout=SEEN_S)
    return reply


# While the cache is unreachable, message keys are recorded in the database (``SeenMessage``, unique
# per key), and a key the cache claims is also looked for there, so a message first handled during
# an outage is still a retry once the cache is back (one indexed read of a table empty but for
# outages). Its expired rows are purged here every _PURGE_EVERY_S at the most.
_PURGE_EVERY_S = 60.0
_purged_at = float("-inf")


def _digest(key: str) -> str:
    return key.rsplit(":", 1)[-1]


def _unseen_in_database(key: str) -> bool:
    return not SeenMessage.objects.filter(key=_digest(key), expires_at__gt=timezone.now()).exists()


def _claim_in_database(key: str) -> bool:
    """True for the first delivery of the message within ``SEEN_S``, False for a retry."""
    global _purged_at
    now = timezone.now()
    expires_at = now + timedelta(seconds=SEEN_S)
    if time.monotonic() - _purged_at >= _PURGE_EVERY_S:
        _purged_at = time.monotonic()
        SeenMessage.objects.filter(expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            SeenMessage.objects.create(key=_digest(key), expires_at=expires_at)
        return True
    except IntegrityError:
        # Expired but not purged yet: taken over by one conditional UPDATE, so one racer wins.
        return SeenMessage.objects.filter(key=_digest(key), expires_at__lte=now).update(expires_at=expires_at) == 1


def _answer(inbound: Inbound) -> Answer:
    from .tasks import answer_later

    with transaction.atomic():
        result = answer(inbound)
        if result.deferred:
            payload = inbound.as_dict()
            transaction.on_commit(lambda: answer_later.delay(payload))
    return result
