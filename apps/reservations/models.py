"""BookingSite appointment parking (就诊预约停车), accessible and EV berth booking, off-peak sharing (错时共享).

Everything staff change is a row: a site's booking rules (window, cut-offs, arrival window, default
stay, fee waiver, no-show policy), its slots and their quotas, sharing offers and their windows.
A slot's ``booked`` counter and an offer's ``taken`` counter are moved only by one conditional
UPDATE each (``services``), so a place is never sold twice.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths


class BerthKind(models.TextChoices):
    """The berths a slot books (the berth registry's kinds that can be booked)."""

    STANDARD = "standard", _("普通")
    ACCESSIBLE = "accessible", _("无障碍")
    EV = "ev", _("充电")


class BookingSite(models.Model):
    """A place that takes bookings: a hospital (就诊预约) or a lot offering its accessible or EV
    berths for booking, with the rules its staff set."""

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("医院")
        LOT = "lot", _("停车场（无障碍/充电泊位预约）")

    name = models.CharField(_("名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.HOSPITAL)
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="booking_sites")
    active = models.BooleanField(_("开放预约"), default=True)
    booking_window_days = models.PositiveSmallIntegerField(
        _("可提前预约天数"), default=7, validators=[MinValueValidator(0), MaxValueValidator(60)],
        help_text=_("0 表示只能预约当天"))
    booking_cutoff_minutes = models.PositiveSmallIntegerField(
        _("当天预约截止（时段开始前分钟）"), default=30, validators=[MaxValueValidator(24 * 60)])
    cancel_cutoff_minutes = models.PositiveSmallIntegerField(
        _("取消截止（时段开始前分钟）"), default=60, validators=[MaxValueValidator(24 * 60)])
    arrive_before_minutes = models.PositiveSmallIntegerField(
        _("最早提前到达（分钟）"), default=60, validators=[MaxValueValidator(24 * 60)])
    arrive_after_minutes = models.PositiveSmallIntegerField(
        _("最晚迟到（分钟）"), default=30, validators=[MaxValueValidator(24 * 60)])
    default_stay_minutes = models.PositiveSmallIntegerField(
        _("默认停留时长（分钟）"), default=180, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)])
    waives_fee = models.BooleanField(_("预约就诊免停车费"), default=False)
    ev_free_minutes = models.PositiveSmallIntegerField(
        _("充电泊位免停车费（分钟）"), default=0, validators=[MaxValueValidator(24 * 60)],
        help_text=_("充停一体化：预约充电泊位并到达后，这段时间内停车免费"))
    no_show_limit = models.PositiveSmallIntegerField(_("爽约次数上限"), default=3,
                                                     validators=[MinValueValidator(1)])
    no_show_period_days = models.PositiveSmallIntegerField(_("爽约统计天数"), default=30,
                                                           validators=[MinValueValidator(1)])
    suspension_days = models.PositiveSmallIntegerField(_("暂停预约天数"), default=30,
                                                       validators=[MinValueValidator(1)])

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    #: the fields whose change is audited
    RULE_FIELDS = ("name", "kind", "lot", "active", "booking_window_days", "booking_cutoff_minutes",
                   "cancel_cutoff_minutes", "arrive_before_minutes", "arrive_after_minutes",
                   "default_stay_minutes", "waives_fee", "ev_free_minutes", "no_show_limit",
                   "no_show_period_days", "suspension_days")

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("预约点")
        verbose_name_plural = pgettext_lazy("plural", "预约点")

    def __str__(self) -> str:
        return self.name


class Slot(models.Model):
    """Bookable berths of one kind at a site for one time slot. ``booked`` counts the active
    bookings (booked or arrived); cancellations and no-shows give their place back."""

    hospital = models.ForeignKey(BookingSite, verbose_name=_("预约点"), on_delete=models.CASCADE, related_name="slots")
    berth_kind = models.CharField(_("泊位类型"), max_length=12, choices=BerthKind.choices,
                                  default=BerthKind.STANDARD)
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    quota = models.PositiveIntegerField(_("可预约数"))
    booked = models.PositiveIntegerField(_("已预约"), default=0, editable=False)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="hospital__lot__region", operator="hospital__lot__operator")

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("预约时段")
        verbose_name_plural = pgettext_lazy("plural", "预约时段")
        constraints = [
            models.CheckConstraint(name="slot_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))),
            models.UniqueConstraint(fields=["hospital", "berth_kind", "starts_at"], name="slot_unique_start"),
        ]
        indexes = [models.Index(fields=["hospital", "starts_at"], name="slot_site_start_idx")]

    def __str__(self) -> str:
        from django.utils import timezone

        return f"{self.hospital} {timezone.localtime(self.starts_at):%Y-%m-%d %H:%M}"

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.booked)

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("结束时间须晚于开始时间")})


class Reservation(models.Model):
    class State(models.TextChoices):
        BOOKED = "booked", _("已预约")
        ARRIVED = "arrived", _("已到达")
        COMPLETED = "completed", _("已完成")
        CANCELLED = "cancelled", _("已取消")
        NO_SHOW = "no_show", _("爽约")

    ACTIVE_STATES = (State.BOOKED, State.ARRIVED)

    code = models.CharField(_("预约码"), max_length=16, unique=True)
    slot = models.ForeignKey(Slot, verbose_name=_("时段"), on_delete=models.PROTECT, related_name="reservations")
    # The slot's site and lot and its local day, kept on the row: the one-a-day rule is a unique
    # index, and the gate matches a batch's entries with one UPDATE on this table alone.
    hospital = models.ForeignKey(BookingSite, verbose_name=_("预约点"), on_delete=models.PROTECT,
                                 related_name="reservations")
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="reservations")
    day = models.DateField(_("日期"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("预约人"), on_delete=models.PROTECT,
                             related_name="reservations")
    plate = models.CharField(_("车牌"), max_length=16)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.BOOKED)
    arrive_from = models.DateTimeField(_("最早到达"))
    arrive_until = models.DateTimeField(_("最晚到达"))
    created_at = models.DateTimeField(_("预约时间"))
    arrived_at = models.DateTimeField(_("到达时间"), null=True, blank=True)
    session_id = models.BigIntegerField(_("停车记录"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("预约")
        verbose_name_plural = pgettext_lazy("plural", "预约")
        constraints = [
            models.UniqueConstraint(fields=["plate", "hospital", "day"], condition=Q(state__in=["booked", "arrived"]),
                                    name="one_active_reservation_per_plate_site_day"),
        ]
        indexes = [
            models.Index(fields=["lot", "plate", "state"], name="reservation_gate_idx"),
            models.Index(fields=["state", "arrive_until"], name="reservation_due_idx"),
            models.Index(fields=["user", "-created_at"], name="reservation_user_idx"),
        ]

    def __str__(self) -> str:
        return self.code


class Suspension(models.Model):
    """Booking at a site suspended for a citizen after too many no-shows; staff may lift it."""

    hospital = models.ForeignKey(BookingSite, verbose_name=_("预约点"), on_delete=models.CASCADE,
                                 related_name="suspensions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("市民"), on_delete=models.CASCADE,
                             related_name="booking_suspensions")
    starts_at = models.DateTimeField(_("开始"))
    until = models.DateTimeField(_("暂停至"))
    no_shows = models.PositiveSmallIntegerField(_("爽约次数"))
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("解除人"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="hospital__lot__region", operator="hospital__lot__operator")

    class Meta:
        ordering = ["-starts_at", "-pk"]
        verbose_name = _("预约暂停")
        verbose_name_plural = pgettext_lazy("plural", "预约暂停")
        indexes = [models.Index(fields=["user", "hospital", "until"], name="suspension_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.hospital}"


# ---------------------------------------------------------------------------------------------------
# Off-peak sharing (错时共享)

class SharingOffer(models.Model):
    """An institution's lot shares ``berths`` berths with residents inside its windows (local
    time; an end before the start wraps past midnight, e.g. 18:00–08:00) for a monthly price."""

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="sharing_offers")
    title = models.CharField(_("名称"), max_length=128)
    berths = models.PositiveIntegerField(_("共享泊位数"))
    taken = models.PositiveIntegerField(_("已签约"), default=0, editable=False)
    weekday_start = models.TimeField(_("工作日开始"), null=True, blank=True, default=time(18, 0))
    weekday_end = models.TimeField(_("工作日结束"), null=True, blank=True, default=time(8, 0))
    weekend_start = models.TimeField(_("周末开始"), null=True, blank=True, default=time(0, 0))
    weekend_end = models.TimeField(_("周末结束"), null=True, blank=True, default=time(0, 0))
    monthly_price_fen = models.PositiveIntegerField(_("月租（分）"))
    term_months = models.PositiveSmallIntegerField(_("签约期（月）"), default=1,
                                                   validators=[MinValueValidator(1), MaxValueValidator(12)])
    active = models.BooleanField(_("开放申请"), default=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    RULE_FIELDS = ("lot", "title", "berths", "weekday_start", "weekday_end", "weekend_start", "weekend_end",
                   "monthly_price_fen", "term_months", "active")

    class Meta:
        ordering = ["lot", "pk"]
        verbose_name = _("错时共享")
        verbose_name_plural = pgettext_lazy("plural", "错时共享")
        constraints = [
            models.CheckConstraint(name="sharing_offer_taken_within_berths", condition=Q(taken__lte=F("berths"))),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def remaining(self) -> int:
        return max(0, self.berths - self.taken)

    def clean(self) -> None:
        for prefix in ("weekday", "weekend"):
            start, end = getattr(self, f"{prefix}_start"), getattr(self, f"{prefix}_end")
            if (start is None) != (end is None):
                raise ValidationError({f"{prefix}_end": _("开始和结束须同时填写或同时留空")})


class SharingApplication(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")

    offer = models.ForeignKey(SharingOffer, verbose_name=_("共享"), on_delete=models.PROTECT,
                              related_name="applications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT,
                             related_name="sharing_applications")
    plate = models.CharField(_("车牌"), max_length=16)
    address = models.CharField(_("住址"), max_length=200)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(_("申请时间"))
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(_("备注"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="offer__lot__region", operator="offer__lot__operator")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("共享申请")
        verbose_name_plural = pgettext_lazy("plural", "共享申请")
        constraints = [
            models.UniqueConstraint(fields=["offer", "plate"], condition=Q(state="pending"),
                                    name="one_pending_sharing_application_per_plate"),
        ]

    def __str__(self) -> str:
        return f"{self.offer} {self.plate}"


class SharingContract(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", _("生效中")
        ENDED = "ended", _("已终止")
        EXPIRED = "expired", _("已到期")

    class EndedBy(models.TextChoices):
        CITIZEN = "citizen", _("市民")
        STAFF = "staff", _("管理方")

    number = models.CharField(_("合同号"), max_length=24, unique=True)
    offer = models.ForeignKey(SharingOffer, verbose_name=_("共享"), on_delete=models.PROTECT,
                              related_name="contracts")
    application = models.OneToOneField(SharingApplication, verbose_name=_("申请"), on_delete=models.PROTECT,
                                       related_name="contract")
    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.PROTECT,
                            related_name="sharing_contracts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("市民"), on_delete=models.PROTECT,
                             related_name="sharing_contracts")
    plate = models.CharField(_("车牌"), max_length=16)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.ACTIVE)
    starts_at = models.DateTimeField(_("生效"))
    ends_at = models.DateTimeField(_("到期"))
    monthly_price_fen = models.PositiveIntegerField(_("月租（分）"))
    months = models.PositiveSmallIntegerField(_("已签月数"), default=1)
    ended_at = models.DateTimeField(_("终止时间"), null=True, blank=True)
    ended_by = models.CharField(_("终止方"), max_length=12, choices=EndedBy.choices, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["-starts_at", "-pk"]
        verbose_name = _("共享合同")
        verbose_name_plural = pgettext_lazy("plural", "共享合同")
        constraints = [
            models.CheckConstraint(name="sharing_contract_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))),
            models.UniqueConstraint(fields=["lot", "plate"], condition=Q(state="active"),
                                    name="one_active_sharing_contract_per_plate_lot"),
        ]
        indexes = [models.Index(fields=["lot", "plate", "state"], name="sharing_gate_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def revenue_fen(self) -> int:
        return self.monthly_price_fen * self.months
