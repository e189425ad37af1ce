"""Orders, what they settle, the payments that paid them, and what staff must look at (SPEC §7, §8.1).

An order collects money for one or more debts (a session's due, an arrears record) through one
channel. Its money never moves here: a paid order's items are applied to the sessions through
``apps.sessions.services`` (the one owner of a session's paid and due). What the database
enforces, not a read before a write:

- a debt is in at most one unpaid order: each item carries ``open`` (true while its order is
  ``created``) and a partial unique constraint holds one open item per session and per arrears;
- a provider's transaction is recorded once per channel (``Payment``);
- an order number is unique (it is the provider's ``out_trade_no``).

Every row reaches a lot through its items, so staff scope (``apps.common.scope``) follows the
lot to its region and operator: a district's staff see the money of their district's lots.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths
from apps.lots.models import ParkingLot


class OrderQuerySet(ScopedQuerySet):
    def unpaid(self):
        return self.filter(state=Order.State.CREATED)

    def with_items(self):
        return self.prefetch_related("items")


class Order(models.Model):
    class State(models.TextChoices):
        CREATED = "created", _("待支付")
        PAID = "paid", _("已支付")
        PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")
        REFUNDED = "refunded", _("已退款")
        CLOSED = "closed", _("已关闭")

    #: states in which the money was taken (refunds may follow)
    PAID_STATES = (State.PAID, State.PARTIALLY_REFUNDED, State.REFUNDED)

    order_no = models.CharField(_("订单号"), max_length=32, unique=True, editable=False)
    state = models.CharField(_("状态"), max_length=20, choices=State.choices, default=State.CREATED)
    channel = models.CharField(_("支付渠道"), max_length=16)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    refunded_fen = models.PositiveIntegerField(_("已退款（分）"), default=0)
    # The lot whose payment code collected it (the page the payer was on); None for an order made
    # from the citizen's own pages (arrears across the city). Settlement credits collection to it.
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("收款停车场"), null=True, blank=True,
                            on_delete=models.PROTECT, related_name="+")
    plate = models.CharField(_("车牌"), max_length=16, blank=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("付款用户"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="payment_orders",
                             help_text=_("为空表示未登录下单（凭订单号查询）"))
    openid = models.CharField(_("OpenID"), max_length=128, blank=True)
    pay = models.JSONField(_("支付参数"), default=dict, blank=True, help_text=_("返回给客户端的 pay 对象"))
    created_at = models.DateTimeField(_("创建时间"), db_index=True)
    expires_at = models.DateTimeField(_("过期时间"))
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    close_reason = models.CharField(_("关闭原因"), max_length=16, blank=True)

    objects = OrderQuerySet.as_manager()
    scope_paths = ScopePaths(region="items__lot__region", operator="items__lot__operator", through_many=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("支付订单")
        verbose_name_plural = pgettext_lazy("plural", "支付订单")
        indexes = [models.Index(fields=["state", "expires_at"], name="order_state_expiry_idx")]
        constraints = [
            models.CheckConstraint(name="order_amount_positive", condition=Q(amount_fen__gt=0)),
            models.CheckConstraint(name="order_refund_within_amount",
                                   condition=Q(refunded_fen__lte=models.F("amount_fen"))),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def is_open(self) -> bool:
        return self.state == self.State.CREATED


class OrderItem(models.Model):
    """One debt an order settles, with the amount fixed when the order was made."""

    class Kind(models.TextChoices):
        SESSION = "session", _("停车费")
        ARREARS = "arrears", _("欠费")

    order = models.ForeignKey(Order, verbose_name=_("订单"), on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices)
    session = models.ForeignKey("parking_sessions.ParkingSession", verbose_name=_("停车记录"), null=True,
                                blank=True, on_delete=models.PROTECT, related_name="order_items")
    arrears = models.ForeignKey("parking_sessions.Arrears", verbose_name=_("欠费"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="order_items")
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="+", help_text=_("这笔欠款所属的停车场"))
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    # True while the order is unpaid: the partial unique constraints below hold one open item per debt.
    open = models.BooleanField(_("未支付"), default=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("订单明细")
        verbose_name_plural = pgettext_lazy("plural", "订单明细")
        constraints = [
            models.UniqueConstraint(fields=["session"], condition=Q(open=True, session__isnull=False),
                                    name="order_item_session_in_one_open_order"),
            models.UniqueConstraint(fields=["arrears"], condition=Q(open=True, arrears__isnull=False),
                                    name="order_item_arrears_in_one_open_order"),
            models.UniqueConstraint(fields=["order", "session"], condition=Q(session__isnull=False),
                                    name="order_item_session_once_per_order"),
            models.UniqueConstraint(fields=["order", "arrears"], condition=Q(arrears__isnull=False),
                                    name="order_item_arrears_once_per_order"),
            models.CheckConstraint(
                name="order_item_one_debt",
                condition=(Q(kind="session", session__isnull=False, arrears__isnull=True)
                           | Q(kind="arrears", arrears__isnull=False, session__isnull=True))),
            models.CheckConstraint(name="order_item_amount_positive", condition=Q(amount_fen__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.debt_id}"

    @property
    def debt_id(self) -> int:
        return self.session_id if self.kind == self.Kind.SESSION else self.arrears_id


class Payment(models.Model):
    """Money a provider says it took for an order (a verified notice or a query's answer)."""

    order = models.ForeignKey(Order, verbose_name=_("订单"), on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(_("支付渠道"), max_length=16)
    transaction_id = models.CharField(_("渠道交易号"), max_length=64)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    paid_at = models.DateTimeField(_("支付时间"))
    payer = models.CharField(_("付款人标识"), max_length=128, blank=True)
    raw = models.JSONField(_("渠道原文"), default=dict, blank=True)
    created_at = models.DateTimeField(_("记录时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="order__items__lot__region", operator="order__items__lot__operator",
                             through_many=True)

    class Meta:
        ordering = ["-paid_at", "-id"]
        verbose_name = _("支付流水")
        verbose_name_plural = pgettext_lazy("plural", "支付流水")
        constraints = [
            models.UniqueConstraint(fields=["channel", "transaction_id"], name="payment_transaction_once"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.transaction_id}"


class PaymentException(models.Model):
    """A genuinely signed notice (or query answer) that does not fit its order: money the
    provider says it took that no order accepted. Staff resolve it (refund, or match by hand)."""

    class Problem(models.TextChoices):
        UNKNOWN_ORDER = "unknown_order", _("订单不存在")
        WRONG_MERCHANT = "wrong_merchant", _("商户号或应用号不符")
        WRONG_CHANNEL = "wrong_channel", _("支付渠道不符")
        AMOUNT_MISMATCH = "amount_mismatch", _("金额不符")
        ORDER_CLOSED = "order_closed", _("订单已关闭后支付")
        PAID_TWICE = "paid_twice", _("同一订单重复支付")
        NOT_APPLIED = "not_applied", _("款项无法入账")

    class State(models.TextChoices):
        OPEN = "open", _("待处理")
        RESOLVED = "resolved", _("已处理")

    order = models.ForeignKey(Order, verbose_name=_("订单"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="exceptions")
    channel = models.CharField(_("支付渠道"), max_length=16)
    order_no = models.CharField(_("通知中的订单号"), max_length=64, blank=True)
    transaction_id = models.CharField(_("渠道交易号"), max_length=64, blank=True)
    amount_fen = models.PositiveIntegerField(_("通知金额（分）"), null=True, blank=True)
    problem = models.CharField(_("问题"), max_length=16, choices=Problem.choices)
    detail = models.TextField(_("说明"), blank=True)
    raw = models.JSONField(_("通知原文"), default=dict, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(_("发现时间"))
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("处理人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    resolution = models.TextField(_("处理说明"), blank=True)

    objects = ScopedQuerySet.as_manager()
    # An exception without an order (an order number we never issued) is seen by city-wide staff only.
    scope_paths = ScopePaths(region="order__items__lot__region", operator="order__items__lot__operator",
                             through_many=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("支付异常")
        verbose_name_plural = pgettext_lazy("plural", "支付异常")
        constraints = [
            # The same notice resent opens one exception, not one per delivery.
            models.UniqueConstraint(fields=["channel", "transaction_id", "problem"], condition=~Q(transaction_id=""),
                                    name="payment_exception_once_per_transaction"),
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="payment_exception_state_idx")]

    def __str__(self) -> str:
        return f"{self.get_problem_display()} {self.order_no}"


class Refund(models.Model):
    """Money given back from a paid order, by staff with a reason, through the order's provider."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("待审批")
        APPROVED = "approved", _("已批准")
        PROCESSING = "processing", _("退款中")
        SUCCEEDED = "succeeded", _("已退款")
        FAILED = "failed", _("退款失败")
        REJECTED = "rejected", _("已驳回")

    order = models.ForeignKey(Order, verbose_name=_("订单"), on_delete=models.PROTECT, related_name="refunds")
    item = models.ForeignKey(OrderItem, verbose_name=_("订单明细"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="refunds", help_text=_("退哪一笔欠款；为空时由退款流程分摊"))
    refund_no = models.CharField(_("退款单号"), max_length=32, unique=True, editable=False)
    amount_fen = models.PositiveIntegerField(_("退款金额（分）"))
    reason = models.CharField(_("退款原因"), max_length=255)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申请人"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审批人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    provider_refund_id = models.CharField(_("渠道退款号"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("申请时间"))
    approved_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    failure = models.CharField(_("失败原因"), max_length=255, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="order__items__lot__region", operator="order__items__lot__operator",
                             through_many=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("退款")
        verbose_name_plural = pgettext_lazy("plural", "退款")
        constraints = [
            models.CheckConstraint(name="refund_amount_positive", condition=Q(amount_fen__gt=0)),
        ]

    def __str__(self) -> str:
        return self.refund_no


class PaymentAgreement(models.Model):
    """无感支付: a plate bound to a channel that charges it after the exit without the driver acting.
    The lots it may be used at are the lots of ``operator`` (None: every lot in the city)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("生效")
        SUSPENDED = "suspended", _("暂停")
        TERMINATED = "terminated", _("已解约")

    plate = models.CharField(_("车牌"), max_length=16)
    channel = models.CharField(_("支付渠道"), max_length=16)
    provider_ref = models.CharField(_("渠道协议号"), max_length=128)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.ACTIVE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("签约用户"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="payment_agreements")
    operator = models.ForeignKey("regions.Operator", verbose_name=_("限定经营单位"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="payment_agreements",
                                 help_text=_("为空表示全市通用"))
    signed_at = models.DateTimeField(_("签约时间"))
    ended_at = models.DateTimeField(_("解约时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    # A city-wide agreement (no operator) is shared: every member of staff sees it, only city-wide
    # staff change it; an operator's agreement is its operator's.
    scope_paths = ScopePaths(operator="operator", shared="operator")

    class Meta:
        ordering = ["-signed_at", "-id"]
        verbose_name = _("无感支付协议")
        verbose_name_plural = pgettext_lazy("plural", "无感支付协议")
        constraints = [
            models.UniqueConstraint(fields=["channel", "provider_ref"], name="agreement_ref_once_per_channel"),
            models.UniqueConstraint(fields=["plate", "channel"], condition=Q(state="active"),
                                    name="agreement_one_active_per_plate_and_channel"),
        ]
        indexes = [models.Index(fields=["plate", "state"], name="agreement_plate_state_idx")]

    def __str__(self) -> str:
        return f"{self.plate} · {self.channel}"


class SandboxTrade(models.Model):
    """The sandbox gateway's own ledger (``providers/sandbox.py``): the platform's cashier keeps its
    trades the way a wallet keeps its own, so querying, closing and refunding work as with any other
    gateway. Not the platform's record of money: that is ``Order`` and ``Payment``."""

    class State(models.TextChoices):
        PENDING = "pending", _("待支付")
        PAID = "paid", _("已支付")
        CLOSED = "closed", _("已关闭")

    order_no = models.CharField(_("商户订单号"), max_length=32, unique=True)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    description = models.CharField(_("商品描述"), max_length=128)
    notify_url = models.URLField(_("通知地址"), max_length=500)
    return_url = models.CharField(_("返回地址"), max_length=500, blank=True)
    expires_at = models.DateTimeField(_("过期时间"))
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.PENDING)
    transaction_id = models.CharField(_("交易号"), max_length=64, blank=True)
    paid_at = models.DateTimeField(_("支付时间"), null=True, blank=True)
    refunded_fen = models.PositiveIntegerField(_("已退款（分）"), default=0)
    refunds = models.JSONField(_("退款记录"), default=list, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("模拟收银台交易")
        verbose_name_plural = pgettext_lazy("plural", "模拟收银台交易")

    def __str__(self) -> str:
        return self.order_no


class PayCodeLot(ParkingLot):
    """A lot seen as the payment codes printed for it (the admin's printable sheet)."""

    class Meta:
        proxy = True
        verbose_name = _("停车缴费码")
        verbose_name_plural = pgettext_lazy("plural", "停车缴费码")
# Pay-later charges, arrears recovery, statements and their rules (issue 7 items 6–9).
from .models_money import *  # noqa: E402, F403
