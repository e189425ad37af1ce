"""无感支付 (leave first, pay later): signing and ending payment agreements, and charging an agreed
plate's pay-later exits through the agreement's channel.

An agreed plate's exit is released ``pay_later`` by the sessions release port (``release.py``):
what it owed became an arrears record whose ledger row names the agreement. After the batch
commits, ``agreement_charges_run`` (a task) queues one ``AgreementCharge`` per such record and
charges it: an order of the agreement's channel for what the record still owes, created in one
transaction (the database refuses a debt already in an unpaid order), then the gateway's
``agreement_charge`` outside it. A paid answer is applied as a notice would be
(``services.payment_result_apply``: the arrears record is paid through the sessions service); a
pending one waits for the gateway's notice or the orders' periodic check; a refusal closes the
order and leaves the arrears owed, recovered like any other (``recovery``).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.common import notices
from apps.common.actor import user_of
from apps.common.plates import mask as mask_plate
from apps.common.plates import validate as validate_plate
from apps.common.scope import may_change
from apps.sessions.models import Arrears, SessionMoneyEntry

from . import providers, services, workflow
from .errors import InvalidChannel, ProviderUnavailable
from .models import AgreementCharge, Order, OrderItem, PaymentAgreement
from .money_errors import AgreementExists, AgreementNotActive, AgreementRefused, InvalidReason, NotAllowed
from .providers.base import PaymentResult, ProviderError

logger = logging.getLogger(__name__)

State = AgreementCharge.State
AGREEMENT_REFERENCE = "agreement:"  # the arrears ledger row's reference, written by release.AgreementCover
MAX_ATTEMPTS = 3
CHARGE_FAILED = "charge_failed"  # the order's close reason when the gateway refused the charge
WECHAT = "wechat"  # the channel whose agreement is the payer's openid (its parking service)


def _agreement_channel(channel: str):
    try:
        provider = providers.get(channel)
    except KeyError:
        provider = None
    if provider is None or not provider.supports_agreements or not provider.is_configured():
        raise InvalidChannel(_("该支付渠道不支持无感支付：%(channel)s") % {"channel": channel}, field="channel",
                             details={"channels": [c for c in providers.codes()
                                                   if providers.get(c).supports_agreements]})
    return provider


def _check_staff(actor, obj) -> None:
    if actor is not None and user_of(actor) is not None and not may_change(actor, obj):
        raise NotAllowed(_("只能管理本人负责范围内的无感支付协议"))


def agreement_sign(*, plate: str, channel: str, provider_ref: str, user=None, operator=None, actor=None,
                   now: datetime | None = None) -> PaymentAgreement:
    """Bind a plate to a channel's agreement, once the gateway confirms it is in force there. One
    active agreement per plate and channel (the database decides a race)."""
    plate = validate_plate(plate)
    provider = _agreement_channel(channel)
    provider_ref = (provider_ref or "").strip()
    if not provider_ref or len(provider_ref) > 128:
        raise AgreementRefused(_("请填写渠道协议号（1–128 个字符）"), code="invalid_agreement_ref",
                               field="provider_ref")
    agreement = PaymentAgreement(plate=plate, channel=channel, provider_ref=provider_ref,
                                 user=user if getattr(user, "pk", None) else None, operator=operator,
                                 signed_at=now or timezone.now())
    _check_staff(actor, agreement)
    try:
        active = provider.agreement_status(plate, agreement_ref=provider_ref)
    except ProviderError as exc:
        raise ProviderUnavailable(_("支付渠道暂时无法确认协议，请稍后再试"), details={"channel": channel}) from exc
    if not active:
        raise AgreementRefused(_("支付渠道未确认该车牌的无感支付协议"), field="provider_ref")
    try:
        with transaction.atomic():
            agreement.save()
            audit_record(action="agreement.signed", actor=actor, obj=agreement,
                         changes={"plate": [None, plate], "channel": [None, channel],
                                  "operator": [None, getattr(operator, "pk", None)]})
    except IntegrityError:
        raise AgreementExists(_("该车牌在此渠道已有生效的协议（或协议号已被使用）"), field="plate") from None
    return agreement


def agreement_end(*, agreement: PaymentAgreement, actor=None, reason: str = "",
                  now: datetime | None = None) -> PaymentAgreement:
    """End an agreement (the payer's wish, or staff's): exits after it are no longer pay-later.
    Charges already queued for it fail and leave their arrears owed."""
    with transaction.atomic():
        locked = PaymentAgreement.objects.select_for_update().get(pk=agreement.pk)
        _check_staff(actor, locked)
        if locked.state == PaymentAgreement.State.TERMINATED:
            raise AgreementNotActive(_("该协议已解约"))
        before = locked.state
        locked.state, locked.ended_at = PaymentAgreement.State.TERMINATED, now or timezone.now()
        locked.save(update_fields=["state", "ended_at"])
        audit_record(action="agreement.ended", actor=actor, obj=locked,
                     changes={"state": [before, locked.state], "reason": [None, reason.strip()]})
    return locked


# -- the citizen's own (我的) -----------------------------------------------------------------

def agreement_channels() -> list[dict]:
    """The channels a citizen may sign 无感支付 with now: ``needs_ref`` where the citizen brings the
    channel's agreement number (WeChat's parking service knows the payer by their openid instead)."""
    found = []
    for code in providers.codes():
        provider = providers.get(code)
        if provider.supports_agreements and provider.citizen_channel and provider.is_configured():
            found.append({"code": code, "name": str(provider.name), "needs_ref": code != WECHAT})
    return found


def citizen_agreement_sign(*, user, plate: str, channel: str, provider_ref: str = "",
                           now: datetime | None = None) -> PaymentAgreement:
    """A citizen signs 无感支付 for one of their bound plates: WeChat's with their openid with the
    payment app, another channel's with the agreement number it gave them. The gateway confirms it
    (``agreement_sign``)."""
    from apps.common.citizens import bound_plates, payer_openid

    from .errors import PlateNotBound

    plate = validate_plate(plate)
    if plate not in bound_plates(user):
        raise PlateNotBound(_("请先绑定该车牌"), field="plate")
    if channel == WECHAT and not (provider_ref or "").strip():
        provider_ref = payer_openid(user)
        if not provider_ref:
            raise AgreementRefused(_("请在微信中打开本页后再开通微信无感支付"), code="openid_required",
                                   field="channel")
    return agreement_sign(plate=plate, channel=channel, provider_ref=provider_ref, user=user, now=now)


def citizen_agreement_end(*, user, agreement_id: int, now: datetime | None = None) -> PaymentAgreement:
    """A citizen ends one of their own agreements (another's answers as unknown: 404)."""
    from apps.common.errors import NotFound

    agreement = PaymentAgreement.objects.filter(pk=agreement_id, user=user).first() if user is not None else None
    if agreement is None:
        raise NotFound(_("未找到该协议"))
    return agreement_end(agreement=agreement, reason=_("市民自行解约"), now=now)


def citizen_agreements(user):
    """A citizen's agreements, the active ones first."""
    return PaymentAgreement.objects.filter(user=user).order_by("state", "-signed_at", "-pk")[:20]


# -- charging -----------------------------------------------------------------------------------

def agreement_charges_queue(*, now: datetime | None = None) -> int:
    """One pending charge for every unpaid pay-later arrears record that names an agreement and has
    none yet. Idempotent: the one-to-one on the arrears record holds one charge each."""
    now = now or timezone.now()
    rows = (SessionMoneyEntry.objects
            .filter(kind=SessionMoneyEntry.Kind.ARREARS, reference__startswith=AGREEMENT_REFERENCE,
                    arrears__paid_at__isnull=True, arrears__agreement_charge__isnull=True)
            .values_list("arrears_id", "reference"))
    charges = []
    for arrears_id, reference in rows:
        agreement_id = reference[len(AGREEMENT_REFERENCE):]
        if agreement_id.isdigit():
            charges.append(AgreementCharge(arrears_id=arrears_id, agreement_id=int(agreement_id), created_at=now,
                                           updated_at=now))
    AgreementCharge.objects.bulk_create(charges, ignore_conflicts=True)
    return len(charges)


def _notify_base() -> str:
    return settings.PUBLIC_BASE_URL or "http://localhost:8000"


def _finish(charge_id: int, state: str, *, failure: str = "", now: datetime) -> AgreementCharge:
    charge = AgreementCharge.objects.select_related("agreement", "arrears").get(pk=charge_id)
    AgreementCharge.objects.filter(pk=charge_id).update(state=state, failure=failure[:255], updated_at=now)
    charge.state, charge.failure = state, failure[:255]
    if state == State.PAID and charge.order_id:  # a failed charge stays arrears, reminded as such
        notices.notify(kind=notices.PAY_LATER_CHARGE, plate=charge.arrears.plate, user=charge.agreement.user,
                       url=f"/me/#order-{charge.order.order_no}",
                       data={"plate": charge.arrears.plate, "amount_fen": charge.arrears.amount_fen,
                             "state": state, "order_no": charge.order.order_no})
    return charge


def _open_order(charge: AgreementCharge, *, now: datetime) -> Order | None:
    """The charge's order for what the arrears record still owes; None when the record is paid, or
    is in another unpaid order (the payer is paying it: try again later)."""
    arrears = Arrears.objects.get(pk=charge.arrears_id)
    owed = arrears.amount_fen - arrears.paid_fen
    if owed <= 0:
        return None
    order = Order(order_no=services.new_order_no(now), channel=charge.agreement.channel, amount_fen=owed,
                  lot_id=arrears.lot_id, plate=arrears.plate, user=charge.agreement.user, created_at=now,
                  expires_at=now + workflow.ORDER_TTL)
    try:
        with transaction.atomic():
            order.save()
            OrderItem.objects.create(order=order, kind=OrderItem.Kind.ARREARS, arrears=arrears, lot_id=arrears.lot_id,
                                     amount_fen=owed)
    except IntegrityError:
        return None
    return order


def agreement_charge_run(*, charge: AgreementCharge, now: datetime | None = None) -> AgreementCharge:
    """Charge one pending pay-later exit through its agreement (see the module docstring). Called
    from the task, outside any transaction: the gateway is asked after the order is committed."""
    now = now or timezone.now()
    with transaction.atomic():
        charge = AgreementCharge.objects.select_for_update().select_related("agreement").get(pk=charge.pk)
        if charge.state != State.PENDING:
            return charge
        if charge.agreement.state != PaymentAgreement.State.ACTIVE:
            return _finish(charge.pk, State.FAILED, failure=_("协议已不在生效状态"), now=now)
        order = _open_order(charge, now=now)
        if order is None:
            paid = Arrears.objects.filter(pk=charge.arrears_id, paid_at__isnull=False).exists()
            if paid:
                return _finish(charge.pk, State.PAID, failure=_("欠费已另行缴清"), now=now)
            return charge  # in another unpaid order just now: the next run tries again
        charge.order, charge.state, charge.attempts = order, State.CHARGING, charge.attempts + 1
        charge.updated_at = now
        charge.save(update_fields=["order", "state", "attempts", "updated_at"])
    return _charge_at_gateway(charge, order, now=now)


def _charge_at_gateway(charge: AgreementCharge, order: Order, *, now: datetime) -> AgreementCharge:
    provider = providers.get(order.channel)
    session = Arrears.objects.select_related("session").get(pk=charge.arrears_id).session
    try:
        result = provider.agreement_charge(
            agreement_ref=charge.agreement.provider_ref, plate=order.plate, order_no=order.order_no,
            amount_fen=order.amount_fen, description=f"{_('无锡停车')} {_('无感支付')} {mask_plate(order.plate)}",
            notify_url=services.notify_url(_notify_base(), order.channel),
            start_at=session.entry_at or session.exit_at or now, end_at=session.exit_at or now,
            plate_color=session.plate_color)
    except ProviderError as exc:
        logger.warning("agreement charge %s (order %s) failed: %s", charge.pk, order.order_no, exc)
        services._close(order.order_no, reason=CHARGE_FAILED, at_gateway=True, now=now)
        if exc.retry and charge.attempts < MAX_ATTEMPTS:
            AgreementCharge.objects.filter(pk=charge.pk).update(state=State.PENDING, failure=str(exc)[:255],
                                                                updated_at=now)
            charge.state = State.PENDING
            return charge
        return _finish(charge.pk, State.FAILED, failure=str(exc), now=now)
    return _charge_answered(charge, order, result, provider=provider, now=now)


def _charge_answered(charge, order, result: PaymentResult, *, provider, now: datetime) -> AgreementCharge:
    if result.state == PaymentResult.PAID:
        if not result.order_no:
            result = dataclasses.replace(result, order_no=order.order_no)
        outcome = services.payment_result_apply(channel=order.channel, result=result,
                                                expected=provider.expected_merchant(), now=now)
        if outcome in (services.PAID, services.DUPLICATE):
            return _finish(charge.pk, State.PAID, now=now)
        return _finish(charge.pk, State.FAILED, failure=_("扣款结果与订单不符，已转支付异常"), now=now)
    if result.state == PaymentResult.PENDING:
        return charge  # the gateway's notice (or the orders' periodic check) settles the order
    services._close(order.order_no, reason=CHARGE_FAILED, at_gateway=False, now=now)
    return _finish(charge.pk, State.FAILED, failure=_("支付渠道拒绝扣款"), now=now)


def agreement_charges_sync(*, now: datetime | None = None) -> int:
    """Charges waiting on their order (a pending answer): done once the order is paid, failed once
    it was closed (expired unpaid). The orders' periodic check moves the orders themselves."""
    now = now or timezone.now()
    moved = 0
    waiting = AgreementCharge.objects.filter(state=State.CHARGING).select_related("order")
    for charge in waiting:
        if charge.order.state in Order.PAID_STATES:
            _finish(charge.pk, State.PAID, now=now)
            moved += 1
        elif charge.order.state == Order.State.CLOSED:
            _finish(charge.pk, State.FAILED, failure=_("扣款未在有效期内完成"), now=now)
            moved += 1
    return moved


def agreement_charges_run(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """The task: queue new pay-later charges, charge the pending ones, settle the waiting ones."""
    now = now or timezone.now()
    queued = agreement_charges_queue(now=now)
    counts = {"queued": queued}
    for charge in AgreementCharge.objects.filter(state=State.PENDING).order_by("created_at")[:limit]:
        state = agreement_charge_run(charge=charge, now=now).state
        counts[state] = counts.get(state, 0) + 1
    counts["synced"] = agreement_charges_sync(now=now)
    return counts


def agreement_charge_retry(*, charge: AgreementCharge, actor, reason: str,
                           now: datetime | None = None) -> AgreementCharge:
    """Staff send a failed charge again (the payer topped up, the agreement was renewed)."""
    if not reason or not reason.strip():
        raise InvalidReason(_("请填写重新扣款的原因"), field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        locked = AgreementCharge.objects.select_for_update().get(pk=charge.pk)
        _check_staff(actor, locked)
        if locked.state != State.FAILED:
            raise AgreementNotActive(_("只有扣款失败的记录可以重新扣款"), code="charge_not_failed")
        locked.state, locked.attempts, locked.updated_at = State.PENDING, 0, now
        locked.save(update_fields=["state", "attempts", "updated_at"])
        audit_record(action="agreement_charge.retried", actor=actor, obj=locked,
                     changes={"state": ["failed", "pending"], "reason": [None, reason.strip()]})
    return locked
