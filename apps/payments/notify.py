"""The gateways' callbacks, ``/payments/notify/<provider>/`` (SPEC §7), generic over the registry.

The provider verifies and decodes the notice (``parse_notice``); a notice it refuses changes
nothing and is answered with its refusal. A verified payment notice is applied by
``services.payment_result_apply`` (merchant, order, channel and amount matched there) and then
acknowledged: a repeat, and a genuine notice that fits no order (a payment exception is opened for
staff), are acknowledged too, so the gateway stops resending what is recorded. Only a failure on
our side (the database) is answered with the refusal, so the gateway tries again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import providers, services
from .providers.base import Ack, Notice, NoticeRefused, PaymentProvider

logger = logging.getLogger(__name__)

MAX_NOTICE_BYTES = 64 * 1024

NoticeHandler = Callable[[PaymentProvider, Notice], object]

#: what is done with a verified notice, by its ``kind``; refunds register theirs (``register_notice_handler``)
_handlers: dict[str, NoticeHandler] = {}


def register_notice_handler(kind: str, handler: NoticeHandler) -> None:
    _handlers[kind] = handler


def _payment(provider: PaymentProvider, notice: Notice) -> str:
    return services.payment_result_apply(channel=provider.code, result=notice.payment,
                                         expected=provider.expected_merchant())


register_notice_handler("payment", _payment)


def _answer(ack: Ack) -> HttpResponse:
    return HttpResponse(ack.body, status=ack.status, content_type=ack.content_type)


@csrf_exempt
@require_POST
def notify(request, provider: str):
    try:
        channel = providers.get(provider)
    except KeyError:
        return JsonResponse({"code": "FAIL", "message": "unknown provider"}, status=404)
    try:
        body = request.body
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > MAX_NOTICE_BYTES:
        refusal = channel.refuse("notice too large")
        return _answer(Ack(413, refusal.body, refusal.content_type))
    try:
        notice = channel.parse_notice(request.headers, body)
    except NoticeRefused as exc:
        logger.warning("%s notice refused: %s", provider, exc)
        return _answer(channel.refuse(str(exc) or "refused"))
    handler = _handlers.get(notice.kind)
    if handler is None or (notice.kind == "payment" and notice.payment is None):
        # Not taken: the gateway keeps it and resends once something here handles it.
        logger.warning("%s notice of kind %r not handled", provider, notice.kind)
        return _answer(channel.refuse(f"{notice.kind} notices are not handled"))
    try:
        outcome = handler(channel, notice)
    except Exception:
        logger.exception("%s notice %s failed", provider, notice.notice_id)
        refusal = channel.refuse("internal error")
        return _answer(Ack(max(refusal.status, 500), refusal.body, refusal.content_type))
    logger.info("%s notice %s: %s", provider, notice.notice_id, outcome)
    return _answer(channel.acknowledge())
