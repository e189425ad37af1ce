"""Refunds: money given back from a paid order, partly or fully, by staff with a reason, through
the order's provider after commit. Above the threshold staff set (``MoneyPolicy``
``refund_approval_over_fen``) a second member of staff must approve; at or below it the request is
its own approval. The session's paid and due follow through ``session_apply_refund`` only.

Locks: a request locks its order, so two refunds racing on one order are decided one after the
other and never together exceed what was paid; an approval locks its refund, so two approvers at
once approve it once; the provider's answer is applied with the session, then the order, then the
refund locked (the platform's order: lot → session → order).

An arrears payment is refunded the same way: its arrears record's paid amount goes down through
``arrears_apply_refund`` (the record's balance belongs to ``apps.sessions``), under the same locks.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.common.actor import user_of
from apps.common.errors import DomainError
from apps.common.scope import may_change
from apps.sessions import selectors as session_selectors
from apps.sessions import services as session_services

from . import notify, providers, services, workflow
from .models import Order, OrderItem, Payment, PaymentException, Refund
from .money_errors import (
    InvalidReason,
    NotAllowed,
    OrderNotPaid,
    RefundExceedsPaid,
    RefundInvalid,
    RefundItemRequired,
    RefundNotAwaiting,
    SecondApproverRequired,
)
from .providers.base import ProviderError, RefundRequest, RefundResult
from .settlement import policy_value

logger = logging.getLogger(__name__)

State = Refund.State
#: refunds that hold money: what is asked for or given back counts against what was paid
HOLDING = (State.REQUESTED, State.APPROVED, State.PROCESSING, State.SUCCEEDED)
REFUND_REASON = "refund"


def _staff(actor, obj) -> object:
    user = user_of(actor)
    if user is None or not getattr(user, "is_staff", False) or not may_change(actor, obj):
        raise NotAllowed(_("只能为本人负责范围内的订单办理退款"))
    return user


def approval_threshold(order: Order) -> int | None:
    """The amount above which a refund of ``order`` needs a second approver (None: every refund)."""
    region_id = OrderItem.objects.filter(order=order).values_list("lot__region_id", flat=True).first()
    return policy_value("refund_approval_over_fen", region_id=region_id)


def refundable_fen(order: Order, item: OrderItem) -> int:
    held = Refund.objects.filter(order=order, state__in=HOLDING)
    item_held = sum(r.amount_fen for r in held if r.item_id == item.pk)
    order_held = sum(r.amount_fen for r in held)
    return max(min(item.amount_fen - item_held, order.amount_fen - order_held), 0)


def refund_request(*, order: Order, amount_fen: int, reason: str, actor, item: OrderItem | None = None,
                   now: datetime | None = None) -> Refund:
    """Staff ask to give back ``amount_fen`` of a paid order's debt ``item`` (the order's only one
    by default), with a reason. Never more than is left of what was paid, counting every refund
    asked for and not refused."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise RefundInvalid(_("退款金额须为正整数（分）"), code="invalid_amount", field="amount_fen")
    if not reason or not reason.strip():
        raise InvalidReason(_("请填写退款原因"), field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        user = _staff(actor, locked)
        if locked.state not in Order.PAID_STATES or locked.state == Order.State.REFUNDED:
            raise OrderNotPaid(_("只有已支付（且未全额退款）的订单可以退款"), details={"state": locked.state})
        items = list(locked.items.all())
        if item is None:
            if len(items) != 1:
                raise RefundItemRequired(_("该订单缴纳了多笔费用，请选择退哪一笔"), field="item")
            item = items[0]
        elif item.order_id != locked.pk:
            raise RefundInvalid(_("这笔费用不属于该订单"), field="item")
        left = refundable_fen(locked, item)
        if amount_fen > left:
            raise RefundExceedsPaid(_("退款金额超过可退金额"), field="amount_fen", details={"refundable_fen": left})
        threshold = approval_threshold(locked)
        second = threshold is None or amount_fen > threshold
        refund = Refund.objects.create(
            order=locked, item=item, refund_no="R" + services.new_order_no(now), amount_fen=amount_fen,
            reason=reason.strip()[:255], state=State.REQUESTED if second else State.APPROVED, requested_by=user,
            approved_by=None if second else user, approved_at=None if second else now, created_at=now)
        audit_record(action="refund.requested", actor=actor, obj=refund,
                     changes={"order": [None, locked.order_no], "amount_fen": [None, amount_fen],
                              "reason": [None, refund.reason], "state": [None, refund.state],
                              "threshold_fen": [None, threshold]})
        if not second:
            transaction.on_commit(lambda: refund_send(refund=refund))
    return refund


def refund_approve(*, refund: Refund, actor, now: datetime | None = None) -> Refund:
    """A second member of staff approves a refund above the threshold; it is then sent."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        user = _staff(actor, locked)
        if locked.state != State.REQUESTED:
            raise RefundNotAwaiting(_("该退款不在待审批状态"), details={"state": locked.state})
        if user.pk == locked.requested_by_id:
            raise SecondApproverRequired(_("退款须由申请人以外的工作人员审批"))
        locked.state, locked.approved_by, locked.approved_at = State.APPROVED, user, now
        locked.save(update_fields=["state", "approved_by", "approved_at"])
        audit_record(action="refund.approved", actor=actor, obj=locked,
                     changes={"state": ["requested", "approved"], "amount_fen": [None, locked.amount_fen]})
        transaction.on_commit(lambda: refund_send(refund=locked))
    return locked


def refund_reject(*, refund: Refund, actor, reason: str, now: datetime | None = None) -> Refund:
    if not reason or not reason.strip():
        raise InvalidReason(_("请填写驳回原因"), field="reason")
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        _staff(actor, locked)
        if locked.state != State.REQUESTED:
            raise RefundNotAwaiting(_("该退款不在待审批状态"), details={"state": locked.state})
        locked.state, locked.failure, locked.completed_at = State.REJECTED, reason.strip()[:255], now or timezone.now()
        locked.save(update_fields=["state", "failure", "completed_at"])
        audit_record(action="refund.rejected", actor=actor, obj=locked,
                     changes={"state": ["requested", "rejected"], "failure": ["", locked.failure]})
    return locked


def refund_send(*, refund: Refund, now: datetime | None = None) -> Refund:
    """Ask the order's provider to refund an approved refund (after the approval committed)."""
    with transaction.atomic():
        locked = Refund.objects.select_for_update().select_related("order").get(pk=refund.pk)
        if locked.state != State.APPROVED:
            return locked
        locked.state = State.PROCESSING
        locked.save(update_fields=["state"])
    order = locked.order
    txn = Payment.objects.filter(order=order).values_list("transaction_id", flat=True).first() or ""
    request = RefundRequest(order_no=order.order_no, refund_no=locked.refund_no, amount_fen=locked.amount_fen,
                            order_amount_fen=order.amount_fen, reason=locked.reason, transaction_id=txn,
                            notify_url=services.notify_url(services_base(), order.channel))
    try:
        result = providers.get(order.channel).refund(request)
    except (ProviderError, KeyError) as exc:
        retry = isinstance(exc, ProviderError) and exc.retry
        logger.warning("refund %s at %s failed (retry=%s): %s", locked.refund_no, order.channel, retry, exc)
        if retry:  # the periodic retry sends it again
            Refund.objects.filter(pk=locked.pk, state=State.PROCESSING).update(state=State.APPROVED)
            locked.state = State.APPROVED
            return locked
        result = RefundResult(refund_no=locked.refund_no, state=RefundResult.FAILED, raw={"error": str(exc)})
    refund_result_apply(channel=order.channel, result=result, now=now)
    locked.refresh_from_db()
    return locked


def services_base() -> str:
    from django.conf import settings

    return settings.PUBLIC_BASE_URL or "http://localhost:8000"


SUCCEEDED, FAILED, PROCESSING, DUPLICATE, UNKNOWN = "succeeded", "failed", "processing", "duplicate", "unknown"


def refund_result_apply(*, channel: str, result: RefundResult, now: datetime | None = None) -> str:
    """A provider's word on a refund (its answer, or a verified refund notice). Succeeded: the
    session's paid goes down through the sessions service, the order's refunded amount up. A repeat
    changes nothing; an amount that does not match opens a payment exception and changes no money."""
    now = now or timezone.now()
    row = (Refund.objects.filter(refund_no=result.refund_no, order__channel=channel)
           .values_list("pk", "order_id", "item__session_id", "item__arrears_id", "item__arrears__session_id").first())
    if row is None:
        return UNKNOWN
    refund_id, order_id, item_session_id, arrears_id, arrears_session_id = row
    session_id = item_session_id or arrears_session_id
    if result.state == RefundResult.PROCESSING:
        Refund.objects.filter(pk=refund_id, state=State.APPROVED).update(state=State.PROCESSING)
        if result.refund_id:
            Refund.objects.filter(pk=refund_id).update(provider_refund_id=result.refund_id[:64])
        return PROCESSING
    with transaction.atomic():
        session_selectors.debts_locked(session_ids=[session_id] if session_id else [])
        order = Order.objects.select_for_update().get(pk=order_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.state in (State.SUCCEEDED, State.FAILED, State.REJECTED):
            return DUPLICATE
        if result.state != RefundResult.SUCCEEDED:
            refund.state, refund.completed_at = State.FAILED, now
            refund.failure = str(result.raw.get("error") or result.raw.get("message") or _("渠道退款失败"))[:255]
            refund.save(update_fields=["state", "completed_at", "failure"])
            return FAILED
        if result.amount_fen is not None and result.amount_fen != refund.amount_fen:
            PaymentException.objects.create(
                order=order, channel=channel, order_no=order.order_no, transaction_id="", amount_fen=result.amount_fen,
                problem=PaymentException.Problem.AMOUNT_MISMATCH, created_at=now, raw=dict(result.raw),
                detail=_("退款 %(no)s：渠道退款 %(theirs)s 分，申请 %(ours)s 分") % {
                    "no": refund.refund_no, "theirs": result.amount_fen, "ours": refund.amount_fen})
            return FAILED
        try:
            if arrears_id is not None:
                session_services.arrears_apply_refund(arrears_id=arrears_id, amount_fen=refund.amount_fen,
                                                      reason=REFUND_REASON, reference=refund.refund_no, now=now)
            else:
                session_services.session_apply_refund(session_id=session_id, amount_fen=refund.amount_fen,
                                                       reason=REFUND_REASON, reference=refund.refund_no, now=now)
        except DomainError as exc:
            PaymentException.objects.create(
                order=order, channel=channel, order_no=order.order_no, amount_fen=refund.amount_fen,
                problem=PaymentException.Problem.NOT_APPLIED, created_at=now, raw=dict(result.raw),
                detail=_("退款 %(no)s 已退出但无法记入停车记录：%(why)s") % {"no": refund.refund_no, "why": exc})
            return FAILED
        order.refunded_fen += refund.amount_fen
        workflow.move(order, Order.State.REFUNDED if order.refunded_fen == order.amount_fen
                      else Order.State.PARTIALLY_REFUNDED)
        order.save(update_fields=["refunded_fen", "state"])
        refund.state, refund.completed_at = State.SUCCEEDED, now
        refund.provider_refund_id = (result.refund_id or refund.provider_refund_id)[:64]
        refund.save(update_fields=["state", "completed_at", "provider_refund_id"])
    return SUCCEEDED


def refunds_retry(*, limit: int = 100) -> int:
    """Approved refunds whose sending failed for a reason that may pass: sent again."""
    sent = 0
    for refund in Refund.objects.filter(state=State.APPROVED).order_by("approved_at")[:limit]:
        refund_send(refund=refund)
        sent += 1
    return sent


def _refund_notice(provider, notice) -> str:
    return refund_result_apply(channel=provider.code, result=notice.refund)


notify.register_notice_handler("refund", _refund_notice)


def refund_for_dispute(*, ticket, session, actor) -> str:
    """The answer to the hotline's refund port (``apps.complaints.ports``): a fee dispute about
    ``session`` asks to give back what its latest paid order still holds for it (``refund_request``:
    the same limits, and a second approver above the threshold). Returns the refund's number."""
    item = (OrderItem.objects.filter(session=session, kind=OrderItem.Kind.SESSION,
                                     order__state__in=[Order.State.PAID, Order.State.PARTIALLY_REFUNDED])
            .select_related("order").order_by("-order__paid_at", "-pk").first())
    left = refundable_fen(item.order, item) if item is not None else 0
    if left <= 0:
        raise RefundInvalid(_("这次停车没有可退款的线上支付"), code="nothing_to_refund")
    refund = refund_request(order=item.order, item=item, amount_fen=left, actor=actor,
                            reason=_("热线工单 %(ticket)s 收费争议") % {"ticket": ticket.ticket_no})
    return refund.refund_no
