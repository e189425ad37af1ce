"""The 24-hour hotline: categories with their SLA, working-day exceptions, responsible units,
dispatch rules, tickets and their changes, Open311 keys."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths

from . import workflow


class Category(models.Model):
    """A kind of complaint and its SLA (the table staff edit): respond within ``respond_hours``
    clock hours, resolve within ``resolve_working_days`` working days."""

    code = models.SlugField(_("代码"), max_length=32, unique=True,
                            validators=[RegexValidator(r"^[a-z][a-z0-9_]*$", _("代码为小写字母、数字和下划线"))])
    name = models.CharField(_("名称"), max_length=64)
    description = models.CharField(_("说明"), max_length=255, blank=True)
    respond_hours = models.PositiveIntegerField(_("响应时限（小时）"), validators=[MinValueValidator(1)])
    resolve_working_days = models.PositiveIntegerField(_("办结时限（工作日）"), validators=[MinValueValidator(1)])
    warn_hours = models.PositiveIntegerField(_("提前预警（小时）"), default=24,
                                             help_text=_("办结时限前多少小时提醒承办单位"))
    city_after_hours = models.PositiveIntegerField(_("升级到市级（超期小时）"), default=24,
                                                   help_text=_("超期多少小时后由区级督办升级为市级督办"))
    names_12345 = models.CharField(_("12345 对应类别"), max_length=255, blank=True,
                                   help_text=_("12345 导出文件中映射到本类别的类别名称，用逗号分隔"))
    position = models.PositiveIntegerField(_("排序"), default=0)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("诉求类别")
        verbose_name_plural = pgettext_lazy("plural", "诉求类别")

    def __str__(self) -> str:
        return self.name


class LocalDay(models.Model):
    """A day whose working status differs locally from the national calendar (a local holiday,
    or a day the office works)."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"))
    name = models.CharField(_("说明"), max_length=64, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("本地工作日调整")
        verbose_name_plural = pgettext_lazy("plural", "本地工作日调整")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Unit(models.Model):
    """Who handles a ticket: the city's hotline office, a region's office or a lot operator."""

    class Kind(models.TextChoices):
        CITY = "city", _("市级")
        REGION = "region", _("区域办公室")
        OPERATOR = "operator", _("经营单位")

    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("对外名称"), max_length=128)
    region = models.OneToOneField("regions.Region", verbose_name=_("区域"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="hotline_unit")
    operator = models.OneToOneField("regions.Operator", verbose_name=_("经营单位"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="hotline_unit")

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", operator="operator")

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("承办单位")
        verbose_name_plural = pgettext_lazy("plural", "承办单位")
        constraints = [
            models.CheckConstraint(name="unit_target_matches_kind", condition=(
                Q(kind="city", region__isnull=True, operator__isnull=True)
                | Q(kind="region", region__isnull=False, operator__isnull=True)
                | Q(kind="operator", region__isnull=True, operator__isnull=False))),
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="city"), name="one_city_unit"),
        ]

    def __str__(self) -> str:
        return self.name


class DispatchRule(models.Model):
    """Where tickets go: the first active rule (lowest ``position``) whose every given condition
    matches the ticket routes it; with none, the lot's district office takes it."""

    position = models.PositiveIntegerField(_("顺序"), default=100)
    category = models.ForeignKey(Category, verbose_name=_("类别"), null=True, blank=True, on_delete=models.CASCADE)
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+")
    operator = models.ForeignKey("regions.Operator", verbose_name=_("经营单位"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey(Unit, verbose_name=_("派往单位"), on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(_("启用"), default=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", operator="operator")

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("派单规则")
        verbose_name_plural = pgettext_lazy("plural", "派单规则")

    def __str__(self) -> str:
        return f"#{self.position} → {self.unit}"


class Channel(models.TextChoices):
    PHONE = "phone", _("电话")
    WEB = "web", _("网页")
    WECHAT = "wechat", _("微信")
    OPEN311 = "open311", _("Open311")
    CITY_12345 = "12345", _("12345 热线")


class Escalation(models.IntegerChoices):
    NONE = 0, _("无")
    WARNED = 1, _("已预警")
    REGION = 2, _("区级督办")
    CITY = 3, _("市级督办")


class TicketQuerySet(ScopedQuerySet):
    def open(self):
        return self.filter(state__in=workflow.OPEN_STATES)


class Ticket(models.Model):
    ticket_no = models.CharField(_("工单号"), max_length=20, unique=True)
    channel = models.CharField(_("来源"), max_length=10, choices=Channel.choices)
    external_id = models.CharField(_("外部编号"), max_length=64, blank=True,
                                   help_text=_("12345 工单编号等"))
    category = models.ForeignKey(Category, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="tickets")
    description = models.TextField(_("诉求内容"))
    phone = models.CharField(_("来电号码"), max_length=20, blank=True)
    caller_name = models.CharField(_("来电人"), max_length=64, blank=True)
    # The platform account that filed it (the web while logged in, WeChat): how the citizen is told of
    # its changes and finds it under 我的, whichever channel it came through.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("市民账号"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="hotline_tickets")
    plate = models.CharField(_("车牌"), max_length=16, blank=True)
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), null=True, blank=True,
                            on_delete=models.PROTECT, related_name="tickets")
    session = models.ForeignKey("parking_sessions.ParkingSession", verbose_name=_("停车记录"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="tickets")
    lat = models.FloatField(_("纬度（WGS-84）"), null=True, blank=True)
    lon = models.FloatField(_("经度（WGS-84）"), null=True, blank=True)
    address = models.CharField(_("地点"), max_length=255, blank=True)
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="tickets")
    unit = models.ForeignKey(Unit, verbose_name=_("承办单位"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="tickets")
    state = models.CharField(_("状态"), max_length=12, choices=workflow.STATES, default=workflow.RECEIVED)
    last_change = models.ForeignKey("TicketChange", verbose_name=_("最近变更"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    # Deadlines are snapshots taken when the ticket is categorised: later SLA edits don't move them.
    respond_by = models.DateTimeField(_("响应时限"))
    resolve_by = models.DateTimeField(_("办结时限"))
    warn_at = models.DateTimeField(_("预警时间"))
    escalate_city_at = models.DateTimeField(_("市级督办时间"))
    responded_at = models.DateTimeField(_("响应时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    escalation = models.PositiveSmallIntegerField(_("督办"), choices=Escalation.choices, default=Escalation.NONE)
    review_requested = models.BooleanField(_("待督办复核"), default=False,
                                           help_text=_("市民评价不满意，待区级督办人员复核"))
    rating = models.PositiveSmallIntegerField(_("满意度"), null=True, blank=True,
                                              validators=[MinValueValidator(1), MaxValueValidator(5)])
    rating_comment = models.CharField(_("评价"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    refund_ref = models.CharField(_("退款申请"), max_length=64, blank=True)
    open311_key = models.ForeignKey("Open311Key", verbose_name=_("Open311 接入方"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="tickets")
    created_at = models.DateTimeField(_("受理时间"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = TicketQuerySet.as_manager()
    # A region's staff see their region's tickets; an operator's staff those about their lots or
    # sent to them, and work only those sent to them.
    scope_paths = ScopePaths(region="region", operator=("unit__operator", "lot__operator"),
                             write=ScopePaths(region="region", operator="unit__operator"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("工单")
        verbose_name_plural = pgettext_lazy("plural", "工单")
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], condition=~Q(external_id=""),
                                    name="ticket_external_id_once"),
        ]
        indexes = [
            models.Index(fields=["state", "resolve_by"], name="ticket_state_due_idx"),
        ]

    def __str__(self) -> str:
        return self.ticket_no

    @property
    def phone_last4(self) -> str:
        return self.phone[-4:] if len(self.phone) >= 4 else ""


class TicketChange(models.Model):
    """One change to a ticket: a move between states, a reassignment, a note, a warning or an
    escalation. The rows are the ticket's history; public ones are what the caller sees."""

    class Kind(models.TextChoices):
        STATE = "state", _("状态变更")
        REASSIGNED = "reassigned", _("改派")
        NOTE = "note", _("备注")
        WARNED = "warned", _("预警")
        ESCALATED = "escalated", _("督办")
        RATED = "rated", _("评价")
        CATEGORISED = "categorised", _("改类别")

    ticket = models.ForeignKey(Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.STATE)
    from_state = models.CharField(_("原状态"), max_length=12, choices=workflow.STATES, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=workflow.STATES)
    reason = models.CharField(_("原因"), max_length=32, blank=True)
    note = models.TextField(_("说明"), blank=True)
    public = models.BooleanField(_("对市民公开"), default=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="ticket__region", operator=("ticket__unit__operator", "ticket__lot__operator"))

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("工单记录")
        verbose_name_plural = pgettext_lazy("plural", "工单记录")

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.state}"


class TicketDay(models.Model):
    """The last ticket number given out on a local day (numbers are sequential per day)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} #{self.last}"


class Open311Key(models.Model):
    """A partner allowed to POST service requests (Open311 ``api_key``); only a hash is stored."""

    name = models.CharField(_("接入方"), max_length=128)
    prefix = models.CharField(_("前缀"), max_length=8)
    key_hash = models.CharField(_("密钥摘要"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths()  # city-wide staff only

    class Meta:
        ordering = ["name"]
        verbose_name = _("Open311 接入密钥")
        verbose_name_plural = pgettext_lazy("plural", "Open311 接入密钥")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
