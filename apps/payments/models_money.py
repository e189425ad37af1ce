"""Where paid money goes after an order: pay-later charges, arrears recovery, statements and the
rules staff set for them (issue 7 items 6–9). Imported at the end of ``models.py``.

- ``MoneyPolicy``: the city's rates and thresholds in force from a date (a district may set its own
  refund threshold); read as a snapshot by the services, so a later change never rewrites a statement.
- ``AgreementCharge``: one pay-later exit's charge through its plate's agreement (无感支付).
- ``ReminderRule`` / ``ArrearsReminder`` / ``ArrearsListing`` / ``Blacklist``: arrears recovery's
  escalation (notice → repeat → masked public list → the operator's blacklist), rules as rows.
- ``Statement`` / ``StatementLine``: each operator's money per period, built from payments and
  refunds; the half-yearly service fee of government lots; cross-region recovery incentives.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths
from apps.sessions.models import Arrears

from .models import Order, PaymentAgreement

__all__ = ["BASIS_POINTS", "AgreementCharge", "ArrearsListing", "ArrearsReminder", "Blacklist", "MoneyPolicy",
           "RecoveryArrears", "ReminderRule", "Statement", "StatementLine"]

BASIS_POINTS = 10_000  # rates are integer basis points of a fen amount: 1250 = 12.5 %


class MoneyPolicy(models.Model):
    """The money rules in force from ``valid_from``. The city's rows (no region) set the rates (the
    platform's service fee, the cross-district recovery incentive) and the refund threshold; a
    district's row may set only its own refund threshold, a blank one following the city's."""

    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+", help_text=_("为空表示全市"))
    valid_from = models.DateField(_("生效日期"))
    refund_approval_over_fen = models.PositiveIntegerField(
        _("退款复核门槛（分）"), null=True, blank=True,
        help_text=_("退款金额超过此值须由另一名工作人员审批；区域留空则按全市"))
    # The rates are the city's: only its rows (no region) set them.
    service_fee_bp = models.PositiveIntegerField(
        _("平台服务费率（万分之）"), null=True, blank=True,
        help_text=_("政府停车场收入的服务费比例，每半年度结算；1250 表示 12.5%"))
    recovery_incentive_bp = models.PositiveIntegerField(
        _("跨区追缴激励比例（万分之）"), null=True, blank=True,
        help_text=_("在他区支付码追缴到的欠费，按此比例计入追缴区域"))
    note = models.CharField(_("说明"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", shared="region")

    class Meta:
        ordering = ["region", "-valid_from"]
        verbose_name = _("资金规则")
        verbose_name_plural = pgettext_lazy("plural", "资金规则")
        constraints = [
            models.UniqueConstraint(fields=["region", "valid_from"], name="money_policy_once_per_day"),
            models.UniqueConstraint(fields=["valid_from"], condition=Q(region__isnull=True),
                                    name="money_policy_city_once_per_day"),
            models.CheckConstraint(name="money_policy_rates_are_the_citys",
                                   condition=Q(region__isnull=True)
                                   | Q(service_fee_bp__isnull=True, recovery_incentive_bp__isnull=True)),
            models.CheckConstraint(name="money_policy_rates_within_whole",
                                   condition=(Q(service_fee_bp__isnull=True) | Q(service_fee_bp__lte=BASIS_POINTS))
                                   & (Q(recovery_incentive_bp__isnull=True)
                                      | Q(recovery_incentive_bp__lte=BASIS_POINTS))),
        ]

    def __str__(self) -> str:
        return f"{self.region or _('全市')} {self.valid_from}"

    def clean(self):
        if self.region_id is not None and (self.service_fee_bp is not None or self.recovery_incentive_bp is not None):
            raise ValidationError(_("平台服务费率和跨区追缴激励比例由全市统一设定，区域只能设定退款复核门槛"))


class AgreementCharge(models.Model):
    """A pay-later exit (its arrears record) charged through the plate's agreement after commit.
    A charge the gateway refuses leaves the arrears owed, to be recovered like any other."""

    class State(models.TextChoices):
        PENDING = "pending", _("待扣款")
        CHARGING = "charging", _("扣款中")
        PAID = "paid", _("已扣款")
        FAILED = "failed", _("扣款失败")

    arrears = models.OneToOneField("parking_sessions.Arrears", verbose_name=_("欠费"), on_delete=models.PROTECT,
                                   related_name="agreement_charge")
    agreement = models.ForeignKey(PaymentAgreement, verbose_name=_("无感支付协议"), on_delete=models.PROTECT,
                                  related_name="charges")
    order = models.ForeignKey(Order, verbose_name=_("扣款订单"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    failure = models.CharField(_("失败原因"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    updated_at = models.DateTimeField(_("更新时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="arrears__lot__region", operator="arrears__lot__operator")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("无感支付扣款")
        verbose_name_plural = pgettext_lazy("plural", "无感支付扣款")
        indexes = [models.Index(fields=["state", "updated_at"], name="agreement_charge_state_idx")]

    def __str__(self) -> str:
        return f"{self.agreement} · {self.arrears_id}"


class ReminderRule(models.Model):
    """One step of arrears recovery: once a plate's oldest unpaid arrears (at lots the rule covers)
    is ``after_days`` old and it owes at least ``min_owed_fen`` there, the step's action is taken.
    ``notice`` / ``repeat`` send a WeChat notice (``repeat`` again every ``repeat_days``), ``public_list``
    puts the masked plate on the public list, ``blacklist`` flags it for the owed operator's lots."""

    class Action(models.TextChoices):
        NOTICE = "notice", _("催缴通知")
        REPEAT = "repeat", _("再次催缴")
        PUBLIC_LIST = "public_list", _("公开曝光（车牌打码）")
        BLACKLIST = "blacklist", _("列入经营单位黑名单")

    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+",
                               help_text=_("只对该区域停车场的欠费生效；为空表示全市"))
    name = models.CharField(_("名称"), max_length=64)
    action = models.CharField(_("措施"), max_length=12, choices=Action.choices)
    after_days = models.PositiveIntegerField(_("欠费天数达到"))
    min_owed_fen = models.PositiveIntegerField(_("欠费金额不低于（分）"), default=1)
    repeat_days = models.PositiveIntegerField(_("重复间隔（天）"), default=0,
                                              help_text=_("仅“再次催缴”使用；0 表示不重复"))
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", shared="region")

    class Meta:
        ordering = ["after_days", "id"]
        verbose_name = _("欠费追缴规则")
        verbose_name_plural = pgettext_lazy("plural", "欠费追缴规则")
        constraints = [models.CheckConstraint(name="reminder_rule_after_a_day", condition=Q(after_days__gte=1))]

    def __str__(self) -> str:
        return self.name


class ArrearsReminder(models.Model):
    """A reminder a rule sent to a plate's holder: the history recovery is decided from."""

    rule = models.ForeignKey(ReminderRule, verbose_name=_("规则"), on_delete=models.PROTECT, related_name="reminders")
    plate = models.CharField(_("车牌"), max_length=16, db_index=True)
    owed_fen = models.PositiveIntegerField(_("欠费金额（分）"))
    arrears_count = models.PositiveIntegerField(_("欠费笔数"))
    oldest_at = models.DateTimeField(_("最早欠费时间"))
    sent_at = models.DateTimeField(_("发送时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="rule__region", shared="rule__region")

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("催缴记录")
        verbose_name_plural = pgettext_lazy("plural", "催缴记录")
        indexes = [models.Index(fields=["rule", "plate", "sent_at"], name="arrears_reminder_idx")]

    def __str__(self) -> str:
        return f"{self.plate} · {self.rule}"


class ArrearsListing(models.Model):
    """A plate on the public list of long-unpaid arrears (shown masked). It ends when the plate has
    paid what it owed there; a new listing starts if it falls behind again."""

    plate = models.CharField(_("车牌"), max_length=16)
    rule = models.ForeignKey(ReminderRule, verbose_name=_("规则"), on_delete=models.PROTECT, related_name="+")
    listed_at = models.DateTimeField(_("公开时间"))
    ended_at = models.DateTimeField(_("撤下时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="rule__region", shared="rule__region")

    class Meta:
        ordering = ["-listed_at", "-id"]
        verbose_name = _("欠费公开")
        verbose_name_plural = pgettext_lazy("plural", "欠费公开")
        constraints = [models.UniqueConstraint(fields=["plate"], condition=Q(ended_at__isnull=True),
                                               name="arrears_listing_one_current_per_plate")]

    def __str__(self) -> str:
        return self.plate


class Blacklist(models.Model):
    """An operator's flag on a plate that owes its lots (lot systems read it on entry). It holds
    while the plate still owes there; staff may lift it with a reason, and a lifted flag is raised
    again only by arrears that arise after the lift."""

    class State(models.TextChoices):
        ACTIVE = "active", _("生效")
        LIFTED = "lifted", _("已解除")
        CLEARED = "cleared", _("已缴清")

    plate = models.CharField(_("车牌"), max_length=16)
    operator = models.ForeignKey("regions.Operator", verbose_name=_("经营单位"), on_delete=models.PROTECT,
                                 related_name="+")
    rule = models.ForeignKey(ReminderRule, verbose_name=_("规则"), on_delete=models.PROTECT, related_name="+")
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.ACTIVE)
    since = models.DateTimeField(_("列入时间"))
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("解除人"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    lift_reason = models.CharField(_("解除原因"), max_length=255, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="operator__lots__region", operator="operator", through_many=True)

    class Meta:
        ordering = ["-since", "-id"]
        verbose_name = _("欠费黑名单")
        verbose_name_plural = pgettext_lazy("plural", "欠费黑名单")
        constraints = [models.UniqueConstraint(fields=["plate", "operator"], condition=Q(state="active"),
                                               name="blacklist_one_active_per_plate_and_operator")]
        indexes = [models.Index(fields=["plate", "state"], name="blacklist_plate_state_idx")]

    def __str__(self) -> str:
        return f"{self.plate} · {self.operator_id}"


class Statement(models.Model):
    """An operator's money for a period: what its lots were paid (every paid fen is the lot
    operator's), less refunds and recovery incentives owed to other regions; or the half-yearly
    service fee on its government lots' net revenue. Built (and rebuilt) by ``settlement``."""

    class Kind(models.TextChoices):
        REVENUE = "revenue", _("收入结算单")
        SERVICE_FEE = "service_fee", _("平台服务费（半年度）")

    operator = models.ForeignKey("regions.Operator", verbose_name=_("经营单位"), on_delete=models.PROTECT,
                                 related_name="statements")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    period_start = models.DateField(_("期间开始"))
    period_end = models.DateField(_("期间结束（不含）"))
    paid_fen = models.BigIntegerField(_("收款（分）"), default=0)
    refunded_fen = models.BigIntegerField(_("退款（分）"), default=0)
    incentive_out_fen = models.BigIntegerField(_("支付他区追缴激励（分）"), default=0)
    incentive_in_fen = models.BigIntegerField(_("获得追缴激励（分）"), default=0)
    net_fen = models.BigIntegerField(_("净额（分）"), default=0)
    rate_bp = models.PositiveIntegerField(_("服务费率（万分之）"), null=True, blank=True)
    service_fee_fen = models.BigIntegerField(_("服务费（分）"), default=0)
    built_at = models.DateTimeField(_("生成时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="operator__lots__region", operator="operator", through_many=True)

    class Meta:
        ordering = ["-period_start", "operator", "kind"]
        verbose_name = _("结算单")
        verbose_name_plural = pgettext_lazy("plural", "结算单")
        constraints = [
            models.UniqueConstraint(fields=["operator", "kind", "period_start", "period_end"],
                                    name="statement_once_per_operator_and_period"),
            models.CheckConstraint(name="statement_period_forward",
                                   condition=Q(period_end__gt=models.F("period_start"))),
        ]

    def __str__(self) -> str:
        return f"{self.operator} {self.get_kind_display()} {self.period_start}–{self.period_end}"


class StatementLine(models.Model):
    """One booked amount on a statement (``amount_fen`` signed: money in is positive)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("收款")
        REFUND = "refund", _("退款")
        INCENTIVE_OUT = "incentive_out", _("跨区追缴激励（支出）")
        INCENTIVE_IN = "incentive_in", _("跨区追缴激励（收入）")
        SERVICE_FEE = "service_fee", _("平台服务费")

    statement = models.ForeignKey(Statement, verbose_name=_("结算单"), on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(_("类型"), max_length=14, choices=Kind.choices)
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, verbose_name=_("订单"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    refund = models.ForeignKey("payments.Refund", verbose_name=_("退款"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey("regions.Region", verbose_name=_("追缴区域"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+", help_text=_("跨区追缴激励的受益区域"))
    channel = models.CharField(_("支付渠道"), max_length=16, blank=True)
    base_fen = models.BigIntegerField(_("计算基数（分）"), default=0)
    rate_bp = models.PositiveIntegerField(_("比例（万分之）"), null=True, blank=True)
    amount_fen = models.BigIntegerField(_("金额（分）"))
    at = models.DateTimeField(_("记账时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="statement__operator__lots__region", operator="statement__operator",
                             through_many=True)

    class Meta:
        ordering = ["statement", "at", "id"]
        verbose_name = _("结算明细")
        verbose_name_plural = pgettext_lazy("plural", "结算明细")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_fen}"


class RecoveryArrears(Arrears):
    """Arrears as recovery staff work them (the admin's 欠费追缴 list): the sessions app's records."""

    class Meta:
        proxy = True
        verbose_name = _("欠费追缴")
        verbose_name_plural = pgettext_lazy("plural", "欠费追缴")
