"""Parking sessions, the ingest log that makes events idempotent, and arrears (SPEC §3)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths


class EventType(models.TextChoices):
    ENTRY = "entry", _("入场")
    EXIT = "exit", _("出场")
    BERTH_OCCUPIED = "berth_occupied", _("泊位占用")
    BERTH_VACANT = "berth_vacant", _("泊位空闲")
    LOT_STATUS = "lot_status", _("余位快照")
    HEARTBEAT = "heartbeat", _("心跳")


class PlateColor(models.TextChoices):
    BLUE = "blue", _("蓝牌")
    YELLOW = "yellow", _("黄牌")
    GREEN = "green", _("绿牌（小型新能源）")
    YELLOW_GREEN = "yellow_green", _("黄绿牌（大型新能源）")
    WHITE = "white", _("白牌")
    BLACK = "black", _("黑牌")


class VehicleClass(models.TextChoices):
    SMALL = "small", _("小型车")
    LARGE = "large", _("大型车")


class IngestEvent(models.Model):
    """Every event a lot system sent that was accepted, once. The unique (lot, event_id) pair is what
    makes a retried batch harmless: the database, not a prior read, decides what is new."""

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE,
                            related_name="ingest_events")
    event_id = models.CharField(_("事件编号"), max_length=64)
    type = models.CharField(_("类型"), max_length=16, choices=EventType.choices)
    occurred_at = models.DateTimeField(_("发生时间"))
    received_at = models.DateTimeField(_("接收时间"))
    device = models.ForeignKey("lots.Device", verbose_name=_("上报设备"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    # The request that stored the row: reading it back tells this request's new rows from ones an
    # earlier (or concurrent) request stored first.
    batch = models.UUIDField(_("批次"), editable=False)
    plate = models.CharField(_("车牌"), max_length=16, null=True, blank=True)
    session = models.ForeignKey("ParkingSession", verbose_name=_("停车记录"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="events")
    payload = models.JSONField(_("原始事件"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("上报事件")
        verbose_name_plural = pgettext_lazy("plural", "上报事件")
        constraints = [
            models.UniqueConstraint(fields=["lot", "event_id"], name="ingest_event_unique_in_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"


class SessionQuerySet(ScopedQuerySet):
    def with_relations(self):
        return self.select_related("lot", "lot__region", "berth")


class ParkingSession(models.Model):
    """One vehicle's stay in a lot, from its entry to the exit that released it (SPEC §3.2)."""

    class State(models.TextChoices):
        OPEN = "open", _("在场")
        AWAITING_PAYMENT = "awaiting_payment", _("待缴费（未放行）")
        CLOSED = "closed", _("已离场")
        SUPERSEDED = "superseded", _("已被新入场取代")
        REVIEW = "review", _("待核查")

    class ReleaseReason(models.TextChoices):
        PAID = "paid", _("已缴费")
        FREE = "free", _("免费")
        PAY_LATER = "pay_later", _("先离场后付费")
        RESERVATION = "reservation", _("预约")
        SHARING_CONTRACT = "sharing_contract", _("错峰共享")
        # No entry was known, or the stay could not be priced: released, nothing charged, for staff.
        REVIEW = "review", _("待核查")
        UNPAID = "unpaid", _("未缴费")

    #: states in which the vehicle may still be at the lot: at most one per plate (or ticket) and lot
    ACTIVE_STATES = (State.OPEN, State.AWAITING_PAYMENT)

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="sessions")
    berth = models.ForeignKey("berths.Berth", verbose_name=_("泊位"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="sessions")
    plate = models.CharField(_("车牌"), max_length=16, null=True, blank=True, help_text=_("规范化车牌；无牌车为空"))
    ticket_id = models.CharField(_("票号"), max_length=64, blank=True, help_text=_("无牌车入场时取的纸质或二维码票"))
    plate_color = models.CharField(_("车牌颜色"), max_length=12, choices=PlateColor.choices, blank=True)
    vehicle_class = models.CharField(_("车型"), max_length=8, choices=VehicleClass.choices,
                                     default=VehicleClass.SMALL)
    new_energy = models.BooleanField(_("新能源"), default=False)
    entry_at = models.DateTimeField(_("入场时间"), null=True, blank=True)
    exit_at = models.DateTimeField(_("出场时间"), null=True, blank=True, help_text=_("应收金额按此时刻计算"))
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    amount_fen = models.PositiveIntegerField(_("应收（分）"), default=0)
    # paid, waived and due change only in the sessions services, each change a SessionMoneyEntry.
    paid_fen = models.PositiveIntegerField(_("已付（分）"), default=0)
    waived_fen = models.PositiveIntegerField(_("减免（分）"), default=0)
    due_fen = models.PositiveIntegerField(_("待付（分）"), default=0)
    # Which rules priced the stay: the tariff and the immutable copy of its rules at that exit.
    tariff = models.ForeignKey("lots.Tariff", verbose_name=_("计费标准"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    tariff_version = models.ForeignKey("lots.TariffVersion", verbose_name=_("计费标准版本"), null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="sessions")
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.OPEN)
    release_reason = models.CharField(_("放行原因"), max_length=16, choices=ReleaseReason.choices, blank=True)
    entry_event_id = models.CharField(_("入场事件"), max_length=64, blank=True)
    exit_event_id = models.CharField(_("出场事件"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = SessionQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["-entry_at", "-id"]
        verbose_name = _("停车记录")
        verbose_name_plural = pgettext_lazy("plural", "停车记录")
        constraints = [
            models.UniqueConstraint(
                fields=["lot", "plate"], condition=Q(state__in=["open", "awaiting_payment"], plate__isnull=False),
                name="one_active_session_per_plate"),
            models.UniqueConstraint(
                fields=["lot", "ticket_id"],
                condition=Q(state__in=["open", "awaiting_payment"], plate__isnull=True) & ~Q(ticket_id=""),
                name="one_active_session_per_ticket"),
            models.CheckConstraint(name="session_has_vehicle", condition=Q(plate__isnull=False) | ~Q(ticket_id="")),
        ]
        indexes = [
            models.Index(fields=["plate", "-entry_at"], name="session_plate_idx"),
            models.Index(fields=["lot", "state"], name="session_lot_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plate or self.ticket_id} @ {self.lot_id}"

    @property
    def released(self) -> bool:
        """Whether the exit let the vehicle go. A wait for payment was not released, and stays not
        released if the vehicle then left anyway (its due became arrears)."""
        return self.state in (self.State.CLOSED, self.State.REVIEW) and self.release_reason != self.ReleaseReason.UNPAID


class ArrearsQuerySet(ScopedQuerySet):
    def unpaid(self):
        return self.filter(paid_at__isnull=True)


class Arrears(models.Model):
    """What a vehicle left without paying (pay later, or an unpaid wait it drove away from)."""

    session = models.OneToOneField(ParkingSession, verbose_name=_("停车记录"), on_delete=models.PROTECT,
                                   related_name="arrears")
    plate = models.CharField(_("车牌"), max_length=16)
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="arrears")
    amount_fen = models.PositiveIntegerField(_("欠费金额（分）"))
    # Changes only in ``services.arrears_apply_payment`` and ``arrears_apply_refund``, each change a
    # SessionMoneyEntry.
    paid_fen = models.PositiveIntegerField(_("已缴（分）"), default=0)
    created_at = models.DateTimeField(_("产生时间"))
    paid_at = models.DateTimeField(_("缴清时间"), null=True, blank=True)

    objects = ArrearsQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("欠费")
        verbose_name_plural = pgettext_lazy("plural", "欠费")
        indexes = [models.Index(fields=["plate", "created_at"], name="arrears_plate_idx")]

    def __str__(self) -> str:
        return f"{self.plate} {self.amount_fen / 100:.2f}"


class SessionMoneyEntry(models.Model):
    """One change of a session's or an arrears record's money, and why: the balances are the sum of
    these rows (``selectors.balances_from_ledger``), so each can be rebuilt from its history.

    - ``payment`` / ``refund``: the session's ``paid_fen`` goes up / down;
    - ``waiver``: what was due is forgiven by a stated rule (``reason``): ``waived_fen`` goes up;
    - ``arrears``: what was due became the arrears record ``arrears`` (the session still names it
      as due; the debt is collected through that record);
    - ``arrears_payment`` / ``arrears_refund``: the arrears record's ``paid_fen`` goes up / down.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("缴费")
        REFUND = "refund", _("退款")
        WAIVER = "waiver", _("减免")
        ARREARS = "arrears", _("转为欠费")
        ARREARS_PAYMENT = "arrears_payment", _("补缴欠费")
        ARREARS_REFUND = "arrears_refund", _("欠费退款")

    session = models.ForeignKey(ParkingSession, verbose_name=_("停车记录"), on_delete=models.PROTECT,
                                related_name="money_entries")
    arrears = models.ForeignKey(Arrears, verbose_name=_("欠费"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="money_entries")
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    reason = models.CharField(_("原因"), max_length=128, help_text=_("规则或来源，如预约减免、先离场后付费"))
    reference = models.CharField(_("凭据"), max_length=128, blank=True, help_text=_("订单号、预约码等"))
    created_at = models.DateTimeField(_("记账时间"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="session__lot__region", operator="session__lot__operator")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("费用流水")
        verbose_name_plural = pgettext_lazy("plural", "费用流水")
        constraints = [
            # A payment notice delivered twice is applied once.
            models.UniqueConstraint(fields=["session", "kind", "reference"], condition=~Q(reference=""),
                                    name="money_entry_reference_once"),
            models.CheckConstraint(name="money_entry_positive", condition=Q(amount_fen__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_fen}"


class IngestNonce(models.Model):
    """An X-Nonce recorded in the database while the shared cache (Redis) was unreachable, so that
    replay protection (SPEC §3.1) holds through the outage. The unique pair decides a race between
    two requests; expired rows are purged by ``apps.sessions.tasks.purge_nonces``."""

    device = models.ForeignKey("lots.Device", verbose_name=_("设备与接入密钥"), on_delete=models.CASCADE,
                               related_name="+")
    digest = models.CharField(_("随机数摘要"), max_length=64)  # sha256 of the nonce: it may hold any characters
    expires_at = models.DateTimeField(_("过期时间"), db_index=True)

    class Meta:
        verbose_name = _("接入随机数")
        verbose_name_plural = pgettext_lazy("plural", "接入随机数")
        constraints = [models.UniqueConstraint(fields=["device", "digest"], name="ingest_nonce_once_per_device")]

    def __str__(self) -> str:
        return f"{self.device_id}:{self.digest[:12]}"
