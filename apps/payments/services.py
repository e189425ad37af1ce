"""Orders and what pays them (SPEC §7, §8.1): the one place an order's state changes.

- ``order_create``: the server prices the debts (a stay in the lot to now, a stay waiting at the
  barrier as fixed at its exit, an arrears record's rest); the same debts again while their order
  is unpaid give that order back; a debt in another unpaid order is refused. The database decides
  the race (a debt has at most one open order item), not a read before the write. The payment is
  started at the channel's gateway after the order is committed.
- ``payment_result_apply``: a gateway's word that an order was paid (a verified notice, or the
  answer to a query), matched against merchant, app, order, channel and amount. A match marks the
  order paid in one transaction with the order locked, applying the money only through the
  sessions services; a repeat changes nothing; a mismatch changes no order and opens a
  ``PaymentException`` for staff.
- ``order_cancel`` / ``order_expire``: ``created`` → ``closed``, closed at the gateway after commit.
- ``orders_reconcile``: the periodic check for orders a notice never came for.

Locks, in the platform's one order (lot → session → order): the debts' sessions (and arrears
records) first, then the order. Ingest takes a lot and then its sessions, so a payment and an exit
of the same stay run one after the other, and neither is lost.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import string
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.common import notices
from apps.common.citizens import bound_plates
from apps.common.errors import DomainError
from apps.common.plates import mask as mask_plate
from apps.lots.models import ParkingLot
from apps.sessions import selectors as session_selectors
from apps.sessions import services as session_services
from apps.sessions.models import Arrears, ParkingSession

from . import providers, workflow
from .errors import (
    DebtInOpenOrder,
    DebtNotFound,
    InvalidChannel,
    InvalidDebts,
    LoginRequired,
    NothingDue,
    OrderNotOpen,
    PlateNotBound,
    ProviderUnavailable,
)
from .models import AgreementCharge, Order, OrderItem, Payment, PaymentException
from .providers.base import PaymentResult, PayRequest, ProviderError

logger = logging.getLogger(__name__)

State = Order.State
Kind = OrderItem.Kind
Problem = PaymentException.Problem

MAX_DEBTS = 50
#: how long one run of ``orders_reconcile`` may go on (the periodic task runs every 60 s)
RECONCILE_BUDGET_S = 45.0
_ALPHABET = string.ascii_letters + string.digits
ORDER_NO_RANDOM = 12  # 62**12 ≈ 2**71 guesses: the number is the key to an anonymous order


def new_order_no(now: datetime) -> str:
    """26 characters of ``[A-Za-z0-9]``: the local time (sortable, readable to staff on the phone)
    and 12 random ones, so holding an order's number is proof enough to see it."""
    return timezone.localtime(now).strftime("%Y%m%d%H%M%S") + "".join(
        secrets.choice(_ALPHABET) for _ in range(ORDER_NO_RANDOM))


# -- the debts an order settles ----------------------------------------------------------------

@dataclass(frozen=True)
class Debt:
    kind: str
    id: int
    lot_id: int
    plate: str
    amount_fen: int
    session_id: int  # the session whose row is locked to change it (an arrears record's own session)

    @property
    def key(self) -> tuple[str, int]:
        return self.kind, self.id


def _session_debts(ids: Sequence[int], *, now: datetime) -> list[Debt]:
    found = {s.pk: s for s in ParkingSession.objects.filter(pk__in=list(ids)).select_related("lot", "lot__tariff")}
    for session_id in ids:
        if session_id not in found:
            raise DebtNotFound(_("停车记录不存在"), field="session_ids", details={"session_id": session_id})
    sessions = [found[i] for i in ids]
    for session in sessions:
        if session.state not in ParkingSession.ACTIVE_STATES or not session.plate:
            raise NothingDue(_("这次停车当前没有可在线缴纳的费用"), field="session_ids",
                             details={"session_id": session.pk})
    if len({(s.lot_id, s.plate) for s in sessions}) > 1:
        raise InvalidDebts(_("一个订单只能缴纳同一停车场、同一车牌的停车费"), field="session_ids")
    debts = []
    for stay in session_selectors.stays_due(sessions, now=now):
        if stay.due_fen <= 0:
            raise NothingDue(_("这次停车当前没有待缴费用"), field="session_ids",
                             details={"session_id": stay.session.pk})
        debts.append(Debt(Kind.SESSION, stay.session.pk, stay.session.lot_id, stay.session.plate, stay.due_fen,
                          stay.session.pk))
    return debts


def _arrears_debts(ids: Sequence[int], *, user) -> list[Debt]:
    if user is None or not getattr(user, "is_authenticated", False):
        raise LoginRequired(_("补缴欠费须先登录"), field="arrears_ids")
    found = {a.pk: a for a in Arrears.objects.filter(pk__in=list(ids))}
    plates = set(bound_plates(user))
    debts = []
    for arrears_id in ids:
        arrears = found.get(arrears_id)
        if arrears is None:
            raise DebtNotFound(_("欠费记录不存在"), field="arrears_ids", details={"arrears_id": arrears_id})
        if arrears.plate not in plates:
            raise PlateNotBound(_("只能补缴本人已绑定车牌的欠费"), field="arrears_ids",
                                details={"arrears_id": arrears_id})
        owed = arrears.amount_fen - arrears.paid_fen
        if owed <= 0:
            raise NothingDue(_("这笔欠费已缴清"), field="arrears_ids", details={"arrears_id": arrears_id})
        debts.append(Debt(Kind.ARREARS, arrears.pk, arrears.lot_id, arrears.plate, owed, arrears.session_id))
    return debts


def _unique(ids: Collection[int], field: str) -> list[int]:
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise InvalidDebts(_("同一笔费用不能重复列出"), field=field)
    if len(ids) > MAX_DEBTS:
        raise InvalidDebts(_("一个订单最多缴纳 %(n)s 笔费用") % {"n": MAX_DEBTS}, field=field)
    return ids


def _debt_q(keys: Collection[tuple[str, int]]) -> Q:
    sessions = [i for kind, i in keys if kind == Kind.SESSION]
    arrears = [i for kind, i in keys if kind == Kind.ARREARS]
    q = Q(pk__in=[])
    if sessions:
        q |= Q(session_id__in=sessions)
    if arrears:
        q |= Q(arrears_id__in=arrears)
    return q


def _order_holding(keys: set[tuple[str, int]], *, user) -> Order | None:
    """The unpaid order already holding these debts, when it holds exactly them and this payer
    may have it (an anonymous order, or the payer's own); None when no unpaid order holds any of
    them. Any other overlap is refused: a debt is in one unpaid order at a time."""
    order_ids = set(OrderItem.objects.filter(_debt_q(keys), open=True).values_list("order_id", flat=True))
    if not order_ids:
        return None
    if len(order_ids) == 1:
        order = Order.objects.filter(pk=next(iter(order_ids)), state=State.CREATED).prefetch_related("items").first()
        if order is not None and {(item.kind, item.debt_id) for item in order.items.all()} == keys and (
                order.user_id is None or (user is not None and order.user_id == getattr(user, "pk", None))):
            return order
    raise DebtInOpenOrder(_("其中有费用正在另一笔未支付的订单中，请先完成或取消该订单"),
                          details={"debts": [{"kind": kind, "id": i} for kind, i in sorted(keys)]})


def order_create(*, channel: str, session_ids: Collection[int] = (), arrears_ids: Collection[int] = (),
                 user=None, notify_base: str, openid: str = "", client_ip: str = "",
                 lot_id: int | None = None, now: datetime | None = None) -> tuple[Order, bool]:
    """An order for these debts through ``channel``, priced by the server; ``(order, created)``.
    ``notify_base`` is the platform's absolute address (``https://host``) the gateway calls back."""
    now = now or timezone.now()
    if channel not in providers.citizen_channels():
        raise InvalidChannel(_("不支持的支付渠道：%(channel)s") % {"channel": channel}, field="channel",
                             details={"channels": providers.citizen_channels()})
    session_ids = _unique(session_ids, "session_ids")
    arrears_ids = _unique(arrears_ids, "arrears_ids")
    if bool(session_ids) == bool(arrears_ids):
        raise InvalidDebts(_("请给出 session_ids 或 arrears_ids 中的一项，且不能为空"), field="session_ids")
    debts = _session_debts(session_ids, now=now) if session_ids else _arrears_debts(arrears_ids, user=user)
    keys = {d.key for d in debts}
    user = user if getattr(user, "is_authenticated", False) else None
    if user is not None and session_ids and not {d.plate for d in debts} <= set(bound_plates(user)):
        # Paying for a plate one has not bound is paying at the lot's code: the order is open to whoever
        # holds it, so that no stranger can lock a driver's stay in a private order the driver cannot use.
        user = None

    # An order holding any of these debts whose time is up but that the periodic check has not
    # reached yet is settled first (paid, or closed), so it neither blocks nor is handed out.
    for stale in Order.objects.filter(state=State.CREATED, expires_at__lte=now,
                                      pk__in=OrderItem.objects.filter(_debt_q(keys), open=True).values("order_id")):
        order_reconcile(stale, now=now)
    held = _order_holding(keys, user=user)
    if held is not None:
        return held, False

    plates = {d.plate for d in debts}
    lots = {d.lot_id for d in debts}
    order = Order(order_no=new_order_no(now), channel=channel, amount_fen=sum(d.amount_fen for d in debts),
                  lot_id=lot_id if lot_id is not None else (next(iter(lots)) if len(lots) == 1 else None),
                  plate=next(iter(plates)) if len(plates) == 1 else "", user=user, openid=openid[:128],
                  created_at=now, expires_at=now + workflow.ORDER_TTL)
    try:
        with transaction.atomic():
            order.save()
            OrderItem.objects.bulk_create([
                OrderItem(order=order, kind=d.kind, session_id=d.id if d.kind == Kind.SESSION else None,
                          arrears_id=d.id if d.kind == Kind.ARREARS else None, lot_id=d.lot_id, amount_fen=d.amount_fen)
                for d in debts])
    except IntegrityError:
        # Another request put one of these debts in an order first: the database decided.
        held = _order_holding(keys, user=user)
        if held is None:
            raise
        return held, False
    _start(order, notify_base=notify_base, client_ip=client_ip)
    return order, True


def notify_url(notify_base: str, channel: str) -> str:
    return f"{notify_base.rstrip('/')}/payments/notify/{channel}/"


def _description(order: Order) -> str:
    """What the gateway shows on the payer's receipt. It leaves the platform for the provider, so
    the plate in it is masked (PIPL: the provider needs no plate to take the money)."""
    what = _("停车费") if order.lot_id else _("欠费补缴")
    return f"{_('无锡停车')} {what} {mask_plate(order.plate) if order.plate else ''}".strip()


def _return_url(order: Order, notify_base: str) -> str:
    """Where a cashier page sends the payer back: the lot's pay page, showing this order's receipt."""
    code = ParkingLot.objects.filter(pk=order.lot_id).values_list("code", flat=True).first() if order.lot_id else None
    if code is None:
        return ""
    path = reverse("payments:pay-page", args=[code])
    return f"{notify_base.rstrip('/')}{path}?{urlencode({'order': order.order_no})}"


def _start(order: Order, *, notify_base: str, client_ip: str) -> None:
    """Create the payment at the gateway; a gateway that refuses closes the order again."""
    provider = providers.get(order.channel)
    return_url = _return_url(order, notify_base)
    request = PayRequest(order_no=order.order_no, amount_fen=order.amount_fen, description=_description(order),
                         expires_at=order.expires_at, notify_url=notify_url(notify_base, order.channel),
                         return_url=return_url, openid=order.openid, client_ip=client_ip,
                         placed_at=order.created_at)
    try:
        pay = provider.start(request)
    except ProviderError as exc:
        logger.warning("channel %s could not start order %s: %s", order.channel, order.order_no, exc)
        _close(order.order_no, reason=workflow.Close.NOT_STARTED, at_gateway=False)
        raise ProviderUnavailable(_("支付渠道暂时不可用，请稍后再试或换一种支付方式"),
                                  details={"channel": order.channel}) from exc
    Order.objects.filter(pk=order.pk).update(pay=pay)
    order.pay = pay


# -- closing -------------------------------------------------------------------------------------

def _close(order_no: str, *, reason: str, at_gateway: bool = True, now: datetime | None = None,
           only_expired: bool = False) -> Order | None:
    """``created`` → ``closed``, its debts free for another order, and (after commit) closed at the
    gateway so it can no longer be paid there. None when the order was not open (or not expired)."""
    now = now or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(order_no=order_no).first()
        if order is None or order.state != State.CREATED or (only_expired and order.expires_at > now):
            return None
        workflow.move(order, State.CLOSED)
        order.closed_at, order.close_reason = now, reason
        order.save(update_fields=["state", "closed_at", "close_reason"])
        order.items.update(open=False)
        if at_gateway:
            channel = order.channel
            transaction.on_commit(lambda: _close_at_gateway(channel, order_no))
    return order


def _close_at_gateway(channel: str, order_no: str) -> None:
    try:
        providers.get(channel).close(order_no)
    except (ProviderError, KeyError) as exc:
        # The gateway was told the order's expiry when it was started: it stops taking money then anyway.
        logger.warning("could not close order %s at %s: %s", order_no, channel, exc)


def order_cancel(*, order: Order, now: datetime | None = None) -> Order:
    """The payer gives up an unpaid order: it is closed (here and at the gateway). Cancelling a
    closed order again changes nothing; a paid one cannot be cancelled (refunds are staff's)."""
    closed = _close(order.order_no, reason=workflow.Close.CANCELLED, now=now)
    if closed is not None:
        return closed
    order.refresh_from_db()
    if order.state != State.CLOSED:
        raise OrderNotOpen(_("订单已支付，不能取消"), details={"state": order.state})
    return order


def order_expire(*, order_no: str, now: datetime | None = None) -> Order | None:
    """Close an unpaid order whose 15 minutes have passed (here and at the gateway)."""
    return _close(order_no, reason=workflow.Close.EXPIRED, now=now, only_expired=True)


# -- paying ----------------------------------------------------------------------------------------

PAID = "paid"
DUPLICATE = "duplicate"
EXCEPTION = "exception"
IGNORED = "ignored"


def _exception_open(*, channel: str, result: PaymentResult, problem: str, order: Order | None, detail: str,
                    now: datetime) -> PaymentException:
    """Record a genuine payment that fits no order, once per transaction and problem."""
    values = {"order": order, "order_no": result.order_no[:64], "amount_fen": result.amount_fen
              if isinstance(result.amount_fen, int) and result.amount_fen >= 0 else None,
              "detail": detail, "raw": _jsonable(result.raw), "created_at": now}
    if not result.transaction_id:
        return PaymentException.objects.create(channel=channel, problem=problem, **values)
    try:
        with transaction.atomic():
            return PaymentException.objects.create(channel=channel, transaction_id=result.transaction_id[:64],
                                                   problem=problem, **values)
    except IntegrityError:
        return PaymentException.objects.get(channel=channel, transaction_id=result.transaction_id[:64],
                                            problem=problem)


def _jsonable(raw) -> dict:
    import json

    try:
        return json.loads(json.dumps(dict(raw), default=str))
    except (TypeError, ValueError):
        return {"repr": repr(raw)[:2000]}


def payment_result_apply(*, channel: str, result: PaymentResult, expected: tuple[str, str] = ("", ""),
                         now: datetime | None = None) -> str:
    """Apply a gateway's verified word on an order. Returns ``paid`` (this call marked it paid),
    ``duplicate`` (it was paid by this very transaction before: nothing changes), ``exception``
    (a genuine payment that does not fit: no order changed, a ``PaymentException`` opened) or
    ``ignored`` (not a payment: still pending, or closed)."""
    now = now or timezone.now()
    if result.state != PaymentResult.PAID:
        return IGNORED
    merchant, app = expected
    # An order always has items: reading them finds the order too (a notice costs few round trips).
    items = list(OrderItem.objects.filter(order__order_no=result.order_no).select_related("arrears").order_by("pk"))
    order_id = items[0].order_id if items else None
    if order_id is None:
        _exception_open(channel=channel, result=result, problem=Problem.UNKNOWN_ORDER, order=None,
                        detail=_("通知中的订单号不是本平台的订单"), now=now)
        return EXCEPTION
    if (merchant and result.merchant_id != merchant) or (app and result.app_id != app):
        _exception_open(channel=channel, result=result, problem=Problem.WRONG_MERCHANT,
                        order=Order.objects.get(pk=order_id),
                        detail=_("收款商户 %(mch)s / 应用 %(app)s 与本平台不符") % {
                            "mch": result.merchant_id, "app": result.app_id}, now=now)
        return EXCEPTION
    with transaction.atomic():
        arrears = session_selectors.debts_locked(
            session_ids={i.session_id if i.kind == Kind.SESSION else i.arrears.session_id for i in items})
        order = Order.objects.select_for_update().get(pk=order_id)
        problem, detail = _mismatch(order, channel=channel, result=result)
        if problem == DUPLICATE:
            return DUPLICATE
        if problem is not None:
            _exception_open(channel=channel, result=result, problem=problem, order=order, detail=detail, now=now)
            return EXCEPTION
        try:
            with transaction.atomic():
                _apply_items(order, items, owed={a.session_id: a for a in arrears if a.paid_at is None}, now=now)
                Payment.objects.create(order=order, channel=channel, transaction_id=result.transaction_id[:64],
                                       amount_fen=result.amount_fen, paid_at=result.paid_at or now,
                                       payer=result.payer[:128], raw=_jsonable(result.raw), created_at=now)
        except (DomainError, IntegrityError) as exc:
            logger.warning("order %s paid by %s but not applied: %s", order.order_no, result.transaction_id, exc)
            _exception_open(channel=channel, result=result, problem=Problem.NOT_APPLIED, order=order,
                            detail=str(getattr(exc, "message", exc))[:1000], now=now)
            return EXCEPTION
        workflow.move(order, State.PAID)
        order.paid_at = result.paid_at or now
        order.save(update_fields=["state", "paid_at"])
        order.items.update(open=False)
        _receipt(order)
    return PAID


def _receipt(order: Order) -> None:
    """Ask for the payer's receipt, sent after commit: to the citizen who ordered, else to whoever
    holds the plate. An agreement's charge is told as a pay-later charge instead (``agreements``)."""
    if order.user_id is None and not order.plate:
        return
    if AgreementCharge.objects.filter(order=order).exists():
        return
    notices.notify(kind=notices.PAYMENT_RECEIPT, user=order.user, plate=order.plate or None,
                   url=f"/me/#order-{order.order_no}",
                   data={"order_no": order.order_no, "plate": order.plate, "amount_fen": order.amount_fen,
                         "channel": order.channel, "paid_at": timezone.localtime(order.paid_at).isoformat()})


def _mismatch(order: Order, *, channel: str, result: PaymentResult) -> tuple[str | None, str]:
    if order.channel != channel:
        return Problem.WRONG_CHANNEL, _("订单的支付渠道是 %(ours)s，通知来自 %(theirs)s") % {
            "ours": order.channel, "theirs": channel}
    if order.state in Order.PAID_STATES:
        if Payment.objects.filter(order=order, channel=channel, transaction_id=result.transaction_id[:64]).exists():
            return DUPLICATE, ""
        return Problem.PAID_TWICE, _("订单已由另一笔交易支付")
    if order.state == State.CLOSED:
        return Problem.ORDER_CLOSED, _("订单已关闭（%(reason)s）后仍收到支付") % {"reason": order.close_reason}
    if result.amount_fen != order.amount_fen:
        return Problem.AMOUNT_MISMATCH, _("通知金额 %(theirs)s 分，订单金额 %(ours)s 分") % {
            "theirs": result.amount_fen, "ours": order.amount_fen}
    if not result.transaction_id:
        return Problem.NOT_APPLIED, _("通知没有渠道交易号")
    return None, ""


def _apply_items(order: Order, items: list[OrderItem], *, owed: dict[int, Arrears], now: datetime) -> None:
    """The money, through the sessions services that own it (the order number is the reference,
    so a ledger row is never written twice for one order). A stay that became arrears while its
    order was being paid (the car left under pay-later, or drove off) is paid through its arrears
    record, so the debt is not owed twice; anything past what it owes stays on the stay, to refund.
    ``owed``: the unpaid arrears record of each stay that has one, read under its lock."""
    for item in items:
        if item.kind == Kind.ARREARS:
            session_services.arrears_apply_payment(arrears_id=item.arrears_id, amount_fen=item.amount_fen,
                                                   reason=order.channel, reference=order.order_no, now=now)
            continue
        rest = item.amount_fen
        if item.session_id in owed:
            arrears = owed[item.session_id]
            part = min(rest, arrears.amount_fen - arrears.paid_fen)
            if part > 0:
                session_services.arrears_apply_payment(arrears_id=arrears.pk, amount_fen=part, reason=order.channel,
                                                       reference=order.order_no, now=now)
                rest -= part
        if rest > 0:
            session_services.session_apply_payment(session_id=item.session_id, amount_fen=rest,
                                                   reason=order.channel, reference=order.order_no, now=now)


# -- notices and the periodic check -------------------------------------------------------------

def order_reconcile(order: Order, *, now: datetime | None = None) -> str:
    """Ask the gateway where an unpaid, expired order stands: paid → applied as a notice would be;
    otherwise closed. A gateway that cannot answer leaves it for the next run."""
    now = now or timezone.now()
    try:
        provider = providers.get(order.channel)
    except KeyError:
        logger.warning("order %s: no provider %r registered", order.order_no, order.channel)
        return "error"
    try:
        result = provider.query(order.order_no, placed_at=order.created_at)
    except ProviderError as exc:
        logger.warning("order %s: %s query failed: %s", order.order_no, order.channel, exc)
        return "error"
    if result.state == PaymentResult.PAID:
        if not result.order_no:
            result = dataclasses.replace(result, order_no=order.order_no)
        return payment_result_apply(channel=order.channel, result=result, expected=provider.expected_merchant(),
                                    now=now)
    return "closed" if order_expire(order_no=order.order_no, now=now) is not None else IGNORED


def orders_reconcile(*, now: datetime | None = None, limit: int = 200,
                     budget_s: float = RECONCILE_BUDGET_S) -> dict[str, int]:
    """Every unpaid order past its expiry: asked at its gateway, then paid or closed. ``limit``
    orders a batch, batch after batch until none is left or ``budget_s`` seconds have gone (the
    next run goes on from there); an order its gateway could not answer stays for the next run."""
    now = now or timezone.now()
    started = time.monotonic()
    counts: dict[str, int] = {}
    after = Q()
    while True:
        # Keyset pages: an order left unpaid (its gateway did not answer) is not asked twice in a run.
        batch = list(Order.objects.filter(after, state=State.CREATED, expires_at__lte=now)
                     .order_by("expires_at", "pk")[:limit])
        for order in batch:
            outcome = order_reconcile(order, now=now)
            counts[outcome] = counts.get(outcome, 0) + 1
        if len(batch) < limit or time.monotonic() - started >= budget_s:
            return counts
        last = batch[-1]
        after = Q(expires_at__gt=last.expires_at) | Q(expires_at=last.expires_at, pk__gt=last.pk)


# -- staff ---------------------------------------------------------------------------------------

def exception_resolve(*, exception: PaymentException, actor, resolution: str,
                      now: datetime | None = None) -> PaymentException:
    """Staff close a payment exception with what they did about it (a refund, a match by hand)."""
    if not resolution or not resolution.strip():
        raise DomainError(_("请填写处理说明"), code="invalid_resolution", field="resolution")
    now = now or timezone.now()
    with transaction.atomic():
        locked = PaymentException.objects.select_for_update().get(pk=exception.pk)
        if locked.state == PaymentException.State.RESOLVED:
            raise DomainError(_("该异常已处理"), code="already_resolved", status=409)
        locked.state, locked.resolved_at, locked.resolution = PaymentException.State.RESOLVED, now, resolution.strip()
        user = getattr(actor, "user", actor)
        locked.resolved_by = user if getattr(user, "pk", None) else None
        locked.save(update_fields=["state", "resolved_at", "resolution", "resolved_by"])
        audit_record(action="payment_exception.resolved", actor=actor, obj=locked,
                     changes={"state": ["open", "resolved"], "resolution": ["", locked.resolution]})
    return locked
