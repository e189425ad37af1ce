"""Summary tables (issue 11 item 3): filled by periodic tasks, read by dashboards, the forecast and open data.

No page scans raw events: occupancy over time comes from ``OccupancySample`` (the lot's live counter,
taken every ``ANALYTICS_SAMPLE_MINUTES``), flow and money from sessions, each rolled up per lot and
local hour (``LotHour``) and per lot and local day (``LotDay``). A rollup is recomputed whole for its
hour or day (idempotent), so a late event or a re-run never counts twice.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths


class OccupancySample(models.Model):
    """A lot's free count at one instant, as the map showed it (``ParkingLot.free_berths``)."""

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(_("采样时间"))
    free_berths = models.PositiveIntegerField(_("空余泊位"))
    total_berths = models.PositiveIntegerField(_("总泊位"))
    online = models.BooleanField(_("在线"), default=True, help_text=_("采样时该停车场未离线"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        verbose_name = _("余位采样")
        verbose_name_plural = pgettext_lazy("plural", "余位采样")
        constraints = [models.UniqueConstraint(fields=["lot", "at"], name="one_sample_per_lot_instant")]
        indexes = [models.Index(fields=["at"], name="sample_at")]

    def __str__(self) -> str:
        return f"{self.lot_id} {self.at:%Y-%m-%d %H:%M} {self.free_berths}/{self.total_berths}"


class LotHour(models.Model):
    """One lot, one local clock hour: occupancy from the samples, entries and exits from sessions."""

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(_("小时"), help_text=_("该小时的开始（本地时间整点）"))
    weekday = models.PositiveSmallIntegerField(_("星期"), help_text=_("0 为星期一（本地时间）"))
    hour_of_day = models.PositiveSmallIntegerField(_("时段"), help_text=_("0–23（本地时间）"))
    total_berths = models.PositiveIntegerField(_("总泊位"))
    occupied_avg = models.FloatField(_("平均占用"))
    occupied_max = models.PositiveIntegerField(_("最高占用"))
    samples = models.PositiveSmallIntegerField(_("采样数"))
    entries = models.PositiveIntegerField(_("入场"), default=0)
    exits = models.PositiveIntegerField(_("出场"), default=0)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        verbose_name = _("小时汇总")
        verbose_name_plural = pgettext_lazy("plural", "小时汇总")
        constraints = [models.UniqueConstraint(fields=["lot", "hour"], name="one_summary_per_lot_hour")]
        indexes = [models.Index(fields=["hour"], name="lothour_hour")]

    def __str__(self) -> str:
        return f"{self.lot_id} {self.hour:%Y-%m-%d %H}:00"


class LotDay(models.Model):
    """One lot, one local day. ``region`` and ``operator`` are the lot's on that day, so a district's
    history stays its own when a lot later moves, and district totals group without a join."""

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("日期"))
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), on_delete=models.PROTECT, related_name="+")
    operator = models.ForeignKey("regions.Operator", verbose_name=_("经营单位"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    total_berths = models.PositiveIntegerField(_("总泊位"))
    entries = models.PositiveIntegerField(_("入场"), default=0)
    exits = models.PositiveIntegerField(_("出场"), default=0)
    sessions_closed = models.PositiveIntegerField(_("完成停车"), default=0,
                                                  help_text=_("当日结束的停车记录，用于周转率"))
    occupied_avg = models.FloatField(_("平均占用"), default=0)
    peak_ratio = models.FloatField(_("高峰占用率"), default=0, help_text=_("当日最高小时平均占用 ÷ 总泊位"))
    hours_over_90 = models.PositiveSmallIntegerField(_("超90%小时数"), default=0)
    online_minutes = models.PositiveIntegerField(_("在线分钟"), default=0)
    billed_fen = models.PositiveBigIntegerField(_("应收（分）"), default=0)
    paid_fen = models.PositiveBigIntegerField(_("实收（分）"), default=0)
    waived_fen = models.PositiveBigIntegerField(_("减免（分）"), default=0)
    arrears_new_fen = models.PositiveBigIntegerField(_("新增欠费（分）"), default=0)
    arrears_recovered_fen = models.PositiveBigIntegerField(_("追缴（分）"), default=0)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", operator="operator")

    class Meta:
        verbose_name = _("日汇总")
        verbose_name_plural = pgettext_lazy("plural", "日汇总")
        constraints = [models.UniqueConstraint(fields=["lot", "day"], name="one_summary_per_lot_day")]
        indexes = [models.Index(fields=["day", "region"], name="lotday_day_region")]

    def __str__(self) -> str:
        return f"{self.lot_id} {self.day:%Y-%m-%d}"

    @property
    def turnover(self) -> float:
        """周转率: completed stays per berth that day."""
        return self.sessions_closed / self.total_berths if self.total_berths else 0.0
