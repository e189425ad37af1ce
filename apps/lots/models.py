from __future__ import annotations

import hashlib
import json

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from apps.common.geo import in_wuxi
from apps.common.scope import ScopedQuerySet, ScopePaths

from .errors import InvalidTariff
from .forecasts import forecast_expression
from .tariff_rules import tariff_rules_check

LOT_CODE_VALIDATOR = RegexValidator(r"^[A-Z0-9-]{1,32}$", _("停车场编码为1–32位大写字母、数字或连字符"))


class Tariff(models.Model):
    """A fee rule set (SPEC §6 JSON). Saving validates it with the fee engine."""

    name = models.CharField(_("名称"), max_length=128)
    key = models.SlugField(_("标识"), max_length=64, unique=True, null=True, blank=True,
                           help_text=_("导入与演示数据使用的稳定标识"))
    rules = models.JSONField(_("计费规则"), help_text=_("SPEC §6 计费规则 JSON"))
    source = models.TextField(_("依据"), blank=True, help_text=_("价格文件或数据来源"))
    is_demo = models.BooleanField(_("演示数据"), default=False)
    region = models.ForeignKey("regions.Region", verbose_name=_("所属区域"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="tariffs",
                               help_text=_("为空表示全市通用"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    # The immutable copy of the rules now in force: a priced session points at it (TariffVersion).
    version = models.ForeignKey("TariffVersion", verbose_name=_("当前版本"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+", editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    objects = ScopedQuerySet.as_manager()
    # City-wide tariffs (no region) are visible to every member of staff; they edit only their own.
    scope_paths = ScopePaths(region="region", operator="lots__operator", through_many=True, shared="region",
                             write=ScopePaths(region="region"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("收费标准")
        verbose_name_plural = pgettext_lazy("plural", "收费标准")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        tariff_rules_check(self.rules)  # never store a rule set the engine would refuse
        super().save(*args, **kwargs)
        TariffVersion.record(self)  # after: a version row needs the tariff's id

    def clean(self) -> None:
        try:
            tariff_rules_check(self.rules)
        except InvalidTariff as exc:
            raise ValidationError({"rules": ValidationError(exc.message, code=exc.code)}) from exc


def rules_digest(rules) -> str:
    """SHA-256 of the rules as canonical JSON (sorted keys, no spaces): equal rules, equal digest."""
    text = json.dumps(rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class TariffVersion(models.Model):
    """One rule set a tariff has had, never changed once written. A priced session points at the
    version that priced it, so a dispute or an audit can reproduce the fee from ``rules`` with the
    fee engine whatever staff changed since; ``digest`` lets anyone check the copy is the one used."""

    tariff = models.ForeignKey(Tariff, verbose_name=_("收费标准"), on_delete=models.PROTECT,
                               related_name="versions")
    number = models.PositiveIntegerField(_("版本号"))
    rules = models.JSONField(_("计费规则"))
    digest = models.CharField(_("规则摘要（SHA-256）"), max_length=64)
    created_at = models.DateTimeField(_("生效时间"), default=timezone.now)

    scope_paths = ScopePaths(region="tariff__region", operator="tariff__lots__operator", through_many=True,
                             shared="tariff__region")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["tariff", "-number"]
        verbose_name = _("收费标准版本")
        verbose_name_plural = pgettext_lazy("plural", "收费标准版本")
        constraints = [
            models.UniqueConstraint(fields=["tariff", "number"], name="tariff_version_number_unique"),
            models.UniqueConstraint(fields=["tariff", "digest"], name="tariff_version_digest_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff_id} v{self.number} ({self.digest[:12]})"

    @classmethod
    def record(cls, tariff: Tariff) -> TariffVersion:
        """The version of ``tariff``'s current rules: the one it points at when the rules are the
        same, else the earlier version with these exact rules, else a new one; the tariff is
        pointed at it. Also repairs a tariff whose rules were changed past ``save`` (a bulk update)."""
        digest = rules_digest(tariff.rules)
        current = tariff.version if tariff.version_id is not None else None
        if current is not None and current.digest == digest:
            return current
        version = cls.objects.filter(tariff=tariff, digest=digest).first()
        if version is None:
            latest = cls.objects.filter(tariff=tariff).aggregate(n=models.Max("number"))["n"] or 0
            try:
                with transaction.atomic():
                    version = cls.objects.create(tariff=tariff, number=latest + 1, rules=tariff.rules, digest=digest)
            except IntegrityError:  # another request recorded these rules first
                version = cls.objects.get(tariff=tariff, digest=digest)
        # A queryset update: no second history record, no new updated_at for an unchanged tariff.
        Tariff.objects.filter(pk=tariff.pk).update(version=version)
        tariff.version = version
        return version


class LotQuerySet(ScopedQuerySet):
    def with_public_relations(self):
        """The joins the public representation needs, and the lot's forecast (``public_forecast``,
        through ``apps.lots.forecasts``: part of the same query)."""
        return self.select_related("region", "operator", "tariff").annotate(public_forecast=forecast_expression())


class ParkingLot(models.Model):
    class Kind(models.TextChoices):
        OFF_STREET = "off_street", _("路外停车场")
        ON_STREET = "on_street", _("道路泊位")

    class ZoneClass(models.TextChoices):
        CORE = "core", _("核心片区")
        CENTER = "center", _("中心片区")
        OUTER = "outer", _("外围片区")

    class RoadClass(models.TextChoices):
        ARTERIAL = "arterial", _("干道")
        BRANCH = "branch", _("支路")

    class CoordSystem(models.TextChoices):
        WGS84 = "wgs84", "WGS-84"
        GCJ02 = "gcj02", "GCJ-02"

    class Status(models.TextChoices):
        OPEN = "open", _("开放")
        CLOSED = "closed", _("关闭")

    class Filing(models.TextChoices):
        UNFILED = "unfiled", _("未备案")
        PENDING = "pending", _("备案审核中")
        FILED = "filed", _("已备案")
        REVOKED = "revoked", _("备案已撤销")

    class Compliance(models.TextChoices):
        NONE = "none", _("未接入")
        BASIC = "basic", _("基础接入（余位）")
        STANDARD = "standard", _("标准接入（进出场）")
        ADVANCED = "advanced", _("智慧化（泊位级）")

    class Category(models.TextChoices):
        PUBLIC = "public", _("公共停车场")
        MALL = "mall", _("商场")
        HOSPITAL = "hospital", _("医院")
        RESIDENTIAL = "residential", _("小区")
        OFFICE = "office", _("办公")
        SCENIC = "scenic", _("景区")
        TRANSPORT = "transport", _("交通枢纽")
        ROAD = "road", _("道路泊位")

    code = models.CharField(_("编码"), max_length=32, unique=True, validators=[LOT_CODE_VALIDATOR])
    name = models.CharField(_("名称"), max_length=128)
    address = models.CharField(_("地址"), max_length=255, blank=True)
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), on_delete=models.PROTECT,
                               related_name="lots")
    operator = models.ForeignKey("regions.Operator", verbose_name=_("经营单位"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="lots")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.OFF_STREET)
    category = models.CharField(_("类别"), max_length=12, choices=Category.choices, default=Category.PUBLIC)
    zone_class = models.CharField(_("片区"), max_length=8, choices=ZoneClass.choices, blank=True)
    road_class = models.CharField(_("道路等级"), max_length=8, choices=RoadClass.choices, blank=True)
    lat = models.FloatField(_("纬度（WGS-84）"), validators=[MinValueValidator(-90), MaxValueValidator(90)])
    lon = models.FloatField(_("经度（WGS-84）"), validators=[MinValueValidator(-180), MaxValueValidator(180)])
    source_coord_system = models.CharField(_("原始坐标系"), max_length=6, choices=CoordSystem.choices,
                                           default=CoordSystem.WGS84)
    total_berths = models.PositiveIntegerField(_("总泊位"), default=0)
    ev_berths = models.PositiveIntegerField(_("充电泊位"), default=0)
    accessible_berths = models.PositiveIntegerField(_("无障碍泊位"), default=0)
    reservable_berths = models.PositiveIntegerField(_("可预约泊位"), default=0)
    free_berths = models.PositiveIntegerField(_("空余泊位"), default=0)
    occupancy_updated_at = models.DateTimeField(_("余位更新时间"), null=True, blank=True)
    # When the lot_status snapshot the count stands on happened: ingest applies entries and exits
    # after it, and ignores a snapshot older than it, without reading the event log.
    snapshot_at = models.DateTimeField(_("余位快照时间"), null=True, blank=True)
    opening_hours = models.CharField(_("开放时间"), max_length=128, default="00:00-24:00",
                                     help_text=_("如 00:00-24:00 或 07:00-22:00"))
    tariff = models.ForeignKey(Tariff, verbose_name=_("收费标准"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="lots")
    allow_pay_later = models.BooleanField(_("允许先离场后付费"), default=False)
    grace_minutes = models.PositiveSmallIntegerField(
        _("缴费后离场宽限（分钟）"), default=15, validators=[MaxValueValidator(240)],
        help_text=_("场内缴费后在此时间内离场按已缴放行；超过后只补缴超出时段的费用"))
    filing_status = models.CharField(_("备案状态"), max_length=10, choices=Filing.choices,
                                     default=Filing.UNFILED)
    compliance_level = models.CharField(_("智慧化达标等级"), max_length=10, choices=Compliance.choices,
                                        default=Compliance.NONE)
    status = models.CharField(_("运营状态"), max_length=8, choices=Status.choices, default=Status.OPEN)
    last_seen_at = models.DateTimeField(_("最近上报"), null=True, blank=True)
    offline_since = models.DateTimeField(_("离线起始"), null=True, blank=True,
                                         help_text=_("为空表示在线"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    history = HistoricalRecords(excluded_fields=["free_berths", "occupancy_updated_at", "snapshot_at",
                                                 "last_seen_at", "offline_since", "updated_at"])

    objects = LotQuerySet.as_manager()
    scope_paths = ScopePaths(region="region", operator="operator")

    class Meta:
        ordering = ["code"]
        verbose_name = _("停车场")
        verbose_name_plural = pgettext_lazy("plural", "停车场")
        indexes = [models.Index(fields=["region", "kind"]), models.Index(fields=["lat", "lon"])]
        constraints = [
            models.CheckConstraint(name="lot_free_within_total", condition=Q(free_berths__lte=F("total_berths"))),
            models.CheckConstraint(
                name="lot_special_berths_within_total",
                condition=Q(ev_berths__lte=F("total_berths"), accessible_berths__lte=F("total_berths"),
                            reservable_berths__lte=F("total_berths")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def public_status(self) -> str:
        """SPEC §4 status: closed, offline, full or open."""
        if self.status == self.Status.CLOSED:
            return "closed"
        if self.offline_since is not None:
            return "offline"
        if self.free_berths <= 0:
            return "full"
        return "open"

    @property
    def updated_at_public(self):
        return self.occupancy_updated_at or self.updated_at

    def clean(self) -> None:
        errors = {}
        if self.code:
            self.code = self.code.strip().upper()
        if self.lat is not None and self.lon is not None and not in_wuxi(self.lat, self.lon):
            errors["lat"] = _("坐标不在无锡市范围内")
        for field in ("ev_berths", "accessible_berths", "reservable_berths", "free_berths"):
            if getattr(self, field) and getattr(self, field) > (self.total_berths or 0):
                errors[field] = _("不能超过总泊位")
        if self.kind == self.Kind.ON_STREET and not (self.zone_class and self.road_class):
            errors["zone_class"] = _("道路泊位须填写片区和道路等级")
        if errors:
            raise ValidationError(errors)


class LotOutage(models.Model):
    """A period when a lot sent nothing (SPEC §3.3: offline after 10 minutes of silence)."""

    lot = models.ForeignKey(ParkingLot, verbose_name=_("停车场"), on_delete=models.CASCADE, related_name="outages")
    started_at = models.DateTimeField(_("离线开始"))
    ended_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region="lot__region", operator="lot__operator")

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("离线记录")
        verbose_name_plural = pgettext_lazy("plural", "离线记录")
        constraints = [
            models.UniqueConstraint(fields=["lot"], condition=Q(ended_at__isnull=True), name="one_open_outage_per_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.lot} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return (self.ended_at or timezone.now()) - self.started_at


class FreeWindow(models.Model):
    """A period when parking is free (holidays, school pick-up): city-wide, a region or one lot."""

    name = models.CharField(_("名称"), max_length=128)
    starts_at = models.DateTimeField(_("开始"))
    ends_at = models.DateTimeField(_("结束"))
    region = models.ForeignKey("regions.Region", verbose_name=_("区域"), null=True, blank=True,
                               on_delete=models.CASCADE)
    lot = models.ForeignKey(ParkingLot, verbose_name=_("停车场"), null=True, blank=True, on_delete=models.CASCADE,
                            related_name="free_windows")
    history = HistoricalRecords()

    objects = ScopedQuerySet.as_manager()
    scope_paths = ScopePaths(region=("region", "lot__region"), operator="lot__operator")

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("免费时段")
        verbose_name_plural = pgettext_lazy("plural", "免费时段")
        constraints = [
            models.CheckConstraint(name="free_window_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("结束时间须晚于开始时间")})


class Device(models.Model):
    """A lot system or device that pushes signed events (SPEC §3.1)."""

    class Kind(models.TextChoices):
        LOT_SYSTEM = "lot_system", _("停车场管理系统")
        GATE_CAMERA = "gate_camera", _("出入口相机")
        GEOMAGNETIC = "geomagnetic", _("地磁")
        VIDEO = "video", _("视频桩")
        ROBOT = "robot", _("泊位机器人")

    name = models.CharField(_("名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.LOT_SYSTEM)
    access_key = models.CharField(_("Access Key"), max_length=32, unique=True, editable=False)
    secret_encrypted = models.TextField(_("密钥（加密）"), editable=False)
    secret_fingerprint = models.CharField(_("密钥指纹"), max_length=12, editable=False)
    lots = models.ManyToManyField(ParkingLot, verbose_name=_("可上报停车场"), related_name="devices")
    issued_at = models.DateTimeField(_("签发时间"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(_("最近请求"), null=True, blank=True, editable=False)
    history = HistoricalRecords(excluded_fields=["last_seen_at"], m2m_fields=[lots])

    objects = ScopedQuerySet.as_manager()
    # A key reporting for lots in two districts is changed only by staff who may change every one.
    scope_paths = ScopePaths(region="lots__region", operator="lots__operator", through_many=True,
                             write=ScopePaths(), every="lots")

    class Meta:
        ordering = ["name"]
        verbose_name = _("设备与接入密钥")
        verbose_name_plural = pgettext_lazy("plural", "设备与接入密钥")

    def __str__(self) -> str:
        return f"{self.name}（{self.access_key}）"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
