"""What the supervision dashboards read besides the lot summaries (issue 11 items 2 and 4).

- ``Target``: the city's goals per metric and year (锡政办发〔2025〕12号), rows staff edit; a row without
  a region is the city-wide goal every district is held to, a row with one overrides it there.
- ``RegionDay`` / ``RegionHour``: the lot summaries added up per region, operator and local day (and
  hour of day), filled from ``LotDay`` / ``LotHour`` by ``apps.analytics.dashboards.rollup``. A city's
  year is 3 million lot days; the district, operator and hour panels read these few thousand rows.
- ``Dashboard``: no table of its own; it gives the admin its page at ``/admin/analytics/dashboard/``
  and the permission (``view_dashboard``) that opens it.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from apps.common.scope import ScopedQuerySet, ScopePaths

from .summaries import LotDay


class Target(models.Model):
    """One goal: the share (in %) of the lots a metric counts that must meet it by the end of ``year``."""

    class Metric(models.TextChoices):
        NETWORKED = "networked", _("联网率")
        SMART = "smart", _("智慧化达标率")
        PAY_CODE = "pay_code", _("统一支付码覆盖率")
        PAY_LATER = "pay_later", _("先离场后付费覆盖率")

    metric = models.CharField(_("指标"), max_length=12, choices=Metric.choices)
    year = models.PositiveSmallIntegerField(_("年度"), validators=[MinValueValidator(2020), MaxValueValidator(2100)])
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+",
                               help_text=_("为空表示全市各区统一目标"))
    percent = models.DecimalField(_("目标值（%）"), max_digits=5, decimal_places=1,
                                  validators=[MinValueValidator(0), MaxValueValidator(100)])
    basis = models.CharField(_("依据"), max_length=255, blank=True)
    provisional = models.BooleanField(_("待核定"), default=False,
                                      help_text=_("按文件理解暂定的目标值，核定后取消勾选"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = HistoricalRecords()

    objects = ScopedQuerySet.as_manager()
    # City-wide goals are seen by all staff and changed by the city; a district's own row is its region's.
    scope_paths = ScopePaths(region="region", shared="region", write=ScopePaths(region="region"))

    class Meta:
        ordering = ["-year", "metric", "region"]
        verbose_name = _("建设目标")
        verbose_name_plural = pgettext_lazy("plural", "建设目标")
        constraints = [
            models.UniqueConstraint(fields=["metric", "year", "region"], name="one_target_per_region_year"),
            models.UniqueConstraint(fields=["metric", "year"], condition=Q(region__isnull=True),
                                    name="one_citywide_target_per_year"),
        ]

    def __str__(self) -> str:
        where = self.region.name if self.region_id else _("全市")
        return f"{self.year} {self.get_metric_display()} {where} {self.percent}%"


class RegionDay(models.Model):
    """The lot days of one region and operator on one local day, added up."""

    day = models.DateField(_("日期"))
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), on_delete=models.CASCADE, related_name="+")
    operator = models.ForeignKey("regions.Operator", verbose_name=_("经营单位"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    lots = models.PositiveIntegerField(_("停车场数"))
    total_berths = models.PositiveBigIntegerField(_("总泊位"))
    occupied_sum = models.FloatField(_("平均占用合计"))
    sessions_closed = models.PositiveBigIntegerField(_("完成停车"))
    entries = models.PositiveBigIntegerField(_("入场"))
    lot_days_over_90 = models.PositiveIntegerField(_("高峰超90%的停车场数"))
    billed_fen = models.PositiveBigIntegerField(_("应收（分）"))
    paid_fen = models.PositiveBigIntegerField(_("实收（分）"))
    waived_fen = models.PositiveBigIntegerField(_("减免（分）"))
    arrears_new_fen = models.PositiveBigIntegerField(_("新增欠费（分）"))
    arrears_recovered_fen = models.PositiveBigIntegerField(_("追缴（分）"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", operator="operator")

    class Meta:
        verbose_name = _("区域日汇总")
        verbose_name_plural = pgettext_lazy("plural", "区域日汇总")
        constraints = [
            models.UniqueConstraint(fields=["day", "region", "operator"], name="one_region_day_per_operator"),
            models.UniqueConstraint(fields=["day", "region"], condition=Q(operator__isnull=True),
                                    name="one_region_day_without_operator"),
        ]

    def __str__(self) -> str:
        return f"{self.region_id}/{self.operator_id} {self.day:%Y-%m-%d}"


class RegionHour(models.Model):
    """The lot hours of one region and operator in one local clock hour of one day, added up."""

    day = models.DateField(_("日期"))
    hour_of_day = models.PositiveSmallIntegerField(_("时段"))
    weekday = models.PositiveSmallIntegerField(_("星期"), help_text=_("0 为星期一（本地时间）"))
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), on_delete=models.CASCADE, related_name="+")
    operator = models.ForeignKey("regions.Operator", verbose_name=_("经营单位"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    total_berths = models.PositiveBigIntegerField(_("总泊位"))
    occupied_sum = models.FloatField(_("平均占用合计"))
    entries = models.PositiveBigIntegerField(_("入场"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", operator="operator")

    class Meta:
        verbose_name = _("区域小时汇总")
        verbose_name_plural = pgettext_lazy("plural", "区域小时汇总")
        indexes = [models.Index(fields=["day", "region"], name="regionhour_day_region")]

    def __str__(self) -> str:
        return f"{self.region_id}/{self.operator_id} {self.day:%Y-%m-%d} {self.hour_of_day}:00"


class LotRecent(models.Model):
    """One lot's last four weeks of lot days, added up (``end`` excluded): what the hotspots and the
    smart-compliance checks read, one row a lot instead of 28. Only the latest ``end`` is kept."""

    lot = models.OneToOneField("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE,
                               related_name="+")
    end = models.DateField(_("截至（不含）"))
    days = models.PositiveSmallIntegerField(_("天数"))
    days_over_90 = models.PositiveSmallIntegerField(_("超90%天数"))
    peak_sum = models.FloatField(_("高峰占用率合计"))
    entries = models.PositiveBigIntegerField(_("入场"))
    exits = models.PositiveBigIntegerField(_("出场"))
    online_minutes = models.PositiveBigIntegerField(_("在线分钟"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        verbose_name = _("近四周汇总")
        verbose_name_plural = pgettext_lazy("plural", "近四周汇总")
        indexes = [models.Index(fields=["end", "days_over_90"], name="lotrecent_end_over")]

    def __str__(self) -> str:
        return f"{self.lot_id} → {self.end:%Y-%m-%d}"


class Dashboard(LotDay):
    """The supervision dashboards' admin page (no table: a proxy of the lot days it reads)."""

    class Meta:
        proxy = True
        verbose_name = _("监管看板")
        verbose_name_plural = pgettext_lazy("plural", "监管看板")
