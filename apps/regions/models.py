from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from apps.common.scope import ScopedQuerySet, ScopePaths

from .validators import validate_credit_code


class Region(models.Model):
    """An administrative division (GB/T 2260) or a management area with a local code."""

    class Level(models.TextChoices):
        CITY = "city", _("地级市")
        DISTRICT = "district", _("市辖区")
        COUNTY_CITY = "county_city", _("县级市")
        MANAGEMENT_AREA = "management_area", _("管理区（功能区）")

    code = models.CharField(
        _("区划代码"), max_length=12, unique=True,
        validators=[RegexValidator(r"^[0-9A-Z]{6,12}$", _("区划代码为6–12位数字或大写字母"))],
        help_text=_("GB/T 2260 六位代码；无国标代码的功能区用本地代码（含字母，不与国标冲突）"),
    )
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("级别"), max_length=20, choices=Level.choices)
    parent = models.ForeignKey("self", verbose_name=_("上级"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")

    objects = ScopedQuerySet.as_manager()
    # Operator staff see the regions their lots are in; only a region's own officers change it.
    scope_paths = ScopePaths(region="pk", operator="lots__operator", through_many=True,
                             write=ScopePaths(region="pk"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("区域")
        verbose_name_plural = pgettext_lazy("plural", "区域")

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def is_gb_code(self) -> bool:
        return self.code.isdigit() and len(self.code) == 6

    def clean(self) -> None:
        if self.level != self.Level.MANAGEMENT_AREA and not self.is_gb_code:
            raise ValidationError({"code": _("行政区划必须使用 GB/T 2260 六位数字代码")})
        if self.level == self.Level.MANAGEMENT_AREA and self.parent_id is None:
            raise ValidationError({"parent": _("功能区必须指定上级区域")})


class Operator(models.Model):
    """经营单位: the company or body that runs lots and receives their money."""

    class Ownership(models.TextChoices):
        GOVERNMENT = "government", _("政府机关")
        STATE_OWNED = "state_owned", _("国有")
        PRIVATE = "private", _("民营")

    name = models.CharField(_("名称"), max_length=128)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True,
                                   validators=[validate_credit_code])
    ownership = models.CharField(_("所有制"), max_length=20, choices=Ownership.choices)
    region = models.ForeignKey(Region, verbose_name=_("注册区域"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="operators")
    contact_name = models.CharField(_("联系人"), max_length=64, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    settlement_bank = models.CharField(_("结算开户行"), max_length=128, blank=True)
    settlement_account_name = models.CharField(_("结算户名"), max_length=128, blank=True)
    settlement_account_no = models.CharField(
        _("结算账号"), max_length=34, blank=True,
        validators=[RegexValidator(r"^\d{8,34}$", _("结算账号为8–34位数字"))],
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = HistoricalRecords()

    objects = ScopedQuerySet.as_manager()
    # Region staff see operators registered in their region or running lots there, and change only
    # those registered in it: a city-level operator running a district's lots is the city's to change.
    scope_paths = ScopePaths(region=("region", "lots__region"), operator="pk", through_many=True,
                             write=ScopePaths(region="region", operator="pk"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("经营单位")
        verbose_name_plural = pgettext_lazy("plural", "经营单位")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.credit_code = (self.credit_code or "").strip().upper()
        super().save(*args, **kwargs)


class StaffScope(models.Model):
    """Which part of the city a member of staff works on."""

    class Kind(models.TextChoices):
        CITY = "city", _("全市")
        REGION = "region", _("区域")
        OPERATOR = "operator", _("经营单位")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE,
                                related_name="staff_scope")
    kind = models.CharField(_("范围"), max_length=10, choices=Kind.choices)
    region = models.ForeignKey(Region, verbose_name=_("区域"), null=True, blank=True, on_delete=models.PROTECT)
    operator = models.ForeignKey(Operator, verbose_name=_("经营单位"), null=True, blank=True,
                                 on_delete=models.PROTECT)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("工作范围")
        verbose_name_plural = pgettext_lazy("plural", "工作范围")
        constraints = [
            models.CheckConstraint(
                name="staff_scope_target_matches_kind",
                condition=(
                    models.Q(kind="city", region__isnull=True, operator__isnull=True)
                    | models.Q(kind="region", region__isnull=False, operator__isnull=True)
                    | models.Q(kind="operator", region__isnull=True, operator__isnull=False)
                ),
            )
        ]

    def __str__(self) -> str:
        target = self.region or self.operator or _("全市")
        return f"{self.user} · {target}"

    def clean(self) -> None:
        if self.kind == self.Kind.REGION and not self.region_id:
            raise ValidationError({"region": _("区域范围必须选择区域")})
        if self.kind == self.Kind.OPERATOR and not self.operator_id:
            raise ValidationError({"operator": _("经营单位范围必须选择经营单位")})
        if self.kind != self.Kind.REGION:
            self.region = None
        if self.kind != self.Kind.OPERATOR:
            self.operator = None
