"""The occupancy forecast (issue 11 item 5): what the evaluation measured per lot, and the forecasts
a periodic task publishes from it.

``ForecastEvaluation`` is one lot's last evaluation on held-out days: the model's mean absolute
error per horizon beside the two naive baselines' (the count now; last week's count at the same
time), the parameters fitted on the days before, and whether the model is kept — only where it
beat both baselines at every horizon. ``LotForecast`` holds the forecast of each kept lot, rewritten
every five minutes; the lot API reads it through ``apps.lots.forecasts`` (a port: apps.lots never
imports this app).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths


class ForecastEvaluation(models.Model):
    lot = models.OneToOneField("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE,
                               related_name="+")
    evaluated_at = models.DateTimeField(_("评估时间"))
    held_out_from = models.DateField(_("留出起始日"), help_text=_("用于评估的第一天（本地日期），此前的数据用于拟合"))
    held_out_days = models.PositiveSmallIntegerField(_("留出天数"))
    decay = models.FloatField(_("偏差衰减"), default=1.0, help_text=_("偏离常态的部分每 5 分钟保留的比例"))
    trend = models.FloatField(_("趋势权重"), default=0.0)
    kept = models.BooleanField(_("采用预测"), default=False,
                               help_text=_("各预测时长的误差均低于两种朴素基线时才发布预测"))
    points_15 = models.PositiveIntegerField(_("15分钟评估点数"), default=0)
    points_30 = models.PositiveIntegerField(_("30分钟评估点数"), default=0)
    points_60 = models.PositiveIntegerField(_("60分钟评估点数"), default=0)
    mae_model_15 = models.FloatField(_("15分钟模型误差"), null=True, blank=True)
    mae_now_15 = models.FloatField(_("15分钟当前值误差"), null=True, blank=True)
    mae_week_15 = models.FloatField(_("15分钟上周同期误差"), null=True, blank=True)
    mae_model_30 = models.FloatField(_("30分钟模型误差"), null=True, blank=True)
    mae_now_30 = models.FloatField(_("30分钟当前值误差"), null=True, blank=True)
    mae_week_30 = models.FloatField(_("30分钟上周同期误差"), null=True, blank=True)
    mae_model_60 = models.FloatField(_("60分钟模型误差"), null=True, blank=True)
    mae_now_60 = models.FloatField(_("60分钟当前值误差"), null=True, blank=True)
    mae_week_60 = models.FloatField(_("60分钟上周同期误差"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        verbose_name = _("预测评估")
        verbose_name_plural = pgettext_lazy("plural", "预测评估")
        indexes = [models.Index(fields=["kept"], name="forecast_eval_kept")]

    def __str__(self) -> str:
        return f"{self.lot_id} {self.held_out_from:%Y-%m-%d}+{self.held_out_days}"


class LotForecast(models.Model):
    """A kept lot's predicted free berths, made at ``made_at`` (the sample it started from)."""

    lot = models.OneToOneField("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE,
                               related_name="+")
    made_at = models.DateTimeField(_("预测起点"))
    in_15_min = models.PositiveIntegerField(_("15分钟后空位"))
    in_30_min = models.PositiveIntegerField(_("30分钟后空位"))
    in_60_min = models.PositiveIntegerField(_("60分钟后空位"))

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        verbose_name = _("余位预测")
        verbose_name_plural = pgettext_lazy("plural", "余位预测")

    def __str__(self) -> str:
        return f"{self.lot_id} {self.made_at:%Y-%m-%d %H:%M} {self.in_15_min}/{self.in_30_min}/{self.in_60_min}"
