from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import ScopedQuerySet, ScopePaths


class Berth(models.Model):
    class Kind(models.TextChoices):
        STANDARD = "standard", _("普通")
        EV = "ev", _("充电")
        ACCESSIBLE = "accessible", _("无障碍")
        RESERVED = "reserved", _("预约")

    class State(models.TextChoices):
        UNKNOWN = "unknown", _("未知")
        VACANT = "vacant", _("空闲")
        OCCUPIED = "occupied", _("占用")
        OUT_OF_SERVICE = "out_of_service", _("停用")

    lot = models.ForeignKey("lots.ParkingLot", verbose_name=_("停车场"), on_delete=models.CASCADE,
                            related_name="berths")
    code = models.CharField(_("泊位编号"), max_length=32)
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.STANDARD)
    floor = models.CharField(_("楼层/区域"), max_length=32, blank=True)
    sensor_id = models.CharField(_("传感器编号"), max_length=64, blank=True)
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.UNKNOWN)
    state_changed_at = models.DateTimeField(_("状态更新时间"), null=True, blank=True)
    # Sensor debounce (apps.berths.services): the latest reading's time, so late readings are ignored,
    # and a change that has not yet held long enough to be believed.
    reading_at = models.DateTimeField(_("最近读数时间"), null=True, blank=True, editable=False)
    pending_state = models.CharField(_("待确认状态"), max_length=16, choices=State.choices, blank=True,
                                     editable=False)
    pending_since = models.DateTimeField(_("待确认起始"), null=True, blank=True, editable=False)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["lot", "code"]
        verbose_name = _("泊位")
        verbose_name_plural = pgettext_lazy("plural", "泊位")
        constraints = [
            models.UniqueConstraint(fields=["lot", "code"], name="berth_code_unique_in_lot"),
            models.UniqueConstraint(fields=["sensor_id"], condition=~models.Q(sensor_id=""),
                                    name="berth_sensor_unique"),
        ]
        indexes = [
            models.Index(fields=["pending_since"], condition=~models.Q(pending_state=""), name="berth_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lot.code}/{self.code}"
