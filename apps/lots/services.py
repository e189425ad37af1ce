"""Writes to the lot registry: lots, tariffs, device credentials, inventory import."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common.errors import DomainError
from apps.common.geo import gcj02_to_wgs84
from apps.common.scope import scope_of
from apps.regions.models import Operator, Region

from . import credentials, inventory
from .errors import ImportStale, InvalidTariff, LotError, OutOfScope
from .models import Device, ParkingLot, Tariff
from .tariff_rules import tariff_rules_check

# What ingest and the connectivity watch write; registry edits leave these to them.
LIVE_FIELDS = tuple(
    field for field in ("free_berths", "occupancy_updated_at", "snapshot_at", "last_seen_at", "offline_since")
    if any(f.name == field for f in ParkingLot._meta.concrete_fields)
)


def _first_error(exc: ValidationError) -> tuple[str | None, str]:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        return field, str(errors[0].message % (errors[0].params or {}))
    return None, str(exc.messages[0])


def _full_clean(obj, *, error_class=LotError, exclude=None) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        field, message = _first_error(exc)
        fields = {k: [str(m) for m in v] for k, v in getattr(exc, "message_dict", {}).items()}
        raise error_class(f"{field}: {message}" if field else message, field=field, details={"fields": fields})


def ensure_lot_in_scope(*, actor, lot: ParkingLot) -> None:
    """An actor may only write lots their scope covers (actor None = system)."""
    if actor is None:
        return
    if not ParkingLot.objects.for_user(actor).filter(pk=lot.pk).exists() and not _could_own(actor, lot):
        raise OutOfScope(_("无权操作该停车场"), field="region")


def _could_own(actor, lot: ParkingLot) -> bool:
    """For a lot being created or moved: would it fall inside the actor's scope?"""
    scope = scope_of(actor)
    if scope.city_wide:
        return True
    return lot.region_id in scope.region_ids or (lot.operator_id is not None and lot.operator_id in scope.operator_ids)


def _to_wgs84(lot: ParkingLot) -> None:
    if lot.source_coord_system == ParkingLot.CoordSystem.GCJ02 and lot.lat is not None and lot.lon is not None:
        lot.lat, lot.lon = gcj02_to_wgs84(lot.lat, lot.lon)


@transaction.atomic
def lot_save(*, lot: ParkingLot, actor=None, coords_in_source_system: bool = False) -> ParkingLot:
    """Create or update a lot. The actor must cover both the old and the new region/operator;
    coordinates given in GCJ-02 are converted and stored as WGS-84."""
    if actor is not None:
        if lot.pk:
            before = ParkingLot.objects.for_user(actor).filter(pk=lot.pk).first()
            if before is None:
                raise OutOfScope(_("无权操作该停车场"))
        if not _could_own(actor, lot):
            raise OutOfScope(_("只能在本人负责的区域或经营单位内登记停车场"), field="region")
    if lot.code:
        lot.code = lot.code.strip().upper()
    if coords_in_source_system:
        _to_wgs84(lot)
    if lot.pk is None:
        if lot.free_berths == 0 and lot.occupancy_updated_at is None:
            lot.free_berths = lot.total_berths  # a new lot starts empty until it reports
    else:
        # The live state belongs to the ingest path and may have moved since this instance was
        # read (an admin form, an import checked minutes ago): take it from the locked row, so a
        # registry edit never writes back a stale count or clears an offline mark.
        current = ParkingLot.objects.select_for_update().filter(pk=lot.pk).first()
        if current is not None:
            for field in LIVE_FIELDS:
                setattr(lot, field, getattr(current, field))
            lot.free_berths = min(lot.free_berths, lot.total_berths)
    _full_clean(lot)
    lot.save()
    return lot


@transaction.atomic
def tariff_save(*, tariff: Tariff, actor=None) -> Tariff:
    """A tariff is saved only if the fee engine accepts every rule in it."""
    tariff_rules_check(tariff.rules)
    if actor is not None:
        scope = scope_of(actor)
        if not scope.city_wide and (tariff.region_id is None or tariff.region_id not in scope.region_ids):
            raise OutOfScope(_("只能编辑本区域的收费标准"), field="region")
    _full_clean(tariff, error_class=InvalidTariff)
    tariff.save()
    return tariff


@transaction.atomic
def device_issue(*, name: str, lots: Iterable[ParkingLot], kind: str = Device.Kind.LOT_SYSTEM,
                 actor=None) -> tuple[Device, str]:
    """Issue a new access key and secret for the given lots. The secret is returned once."""
    lots = list(lots)
    if not lots:
        raise LotError(_("至少选择一个停车场"), field="lots")
    for lot in lots:
        ensure_lot_in_scope(actor=actor, lot=lot)
    secret = credentials.new_secret()
    device = Device(name=name, kind=kind, access_key=credentials.new_access_key(),
                    secret_encrypted=credentials.encrypt_secret(secret),
                    secret_fingerprint=credentials.fingerprint(secret))
    device._history_user = actor
    device.save()
    device.lots.set(lots)
    return device, secret


def device_fully_in_scope(*, device: Device, actor) -> bool:
    """A device reporting for several lots is the actor's to change only if every one of them is:
    rotating or revoking a shared key would otherwise reach into another region's feed."""
    if actor is None or scope_of(actor).city_wide:
        return True
    return not device.lots.exclude(pk__in=ParkingLot.objects.for_user(actor).values("pk")).exists()


def _lock_device(*, device: Device, actor) -> Device:
    """Lock the device row; staff may only touch devices whose every lot their scope covers."""
    locked = Device.objects.select_for_update().filter(pk=device.pk).first()
    if locked is None or not device_fully_in_scope(device=locked, actor=actor):
        raise OutOfScope(_("该设备也为您负责范围以外的停车场上报，须由全市管理员操作"))
    return locked


@transaction.atomic
def device_rotate_secret(*, device: Device, actor=None) -> str:
    """Replace a device's secret (and un-revoke it); the old secret stops working at once."""
    device = _lock_device(device=device, actor=actor)
    secret = credentials.new_secret()
    device.secret_encrypted = credentials.encrypt_secret(secret)
    device.secret_fingerprint = credentials.fingerprint(secret)
    device.issued_at = timezone.now()
    device.revoked_at = None
    device._history_user = actor
    device.save(update_fields=["secret_encrypted", "secret_fingerprint", "issued_at", "revoked_at"])
    return secret


@transaction.atomic
def device_revoke(*, device: Device, actor=None) -> Device:
    """Revoke a device's key: every later request with it is refused as unknown_key."""
    device = _lock_device(device=device, actor=actor)
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device._history_user = actor
        device.save(update_fields=["revoked_at"])
    return device


def region_by_code(code: str) -> Region | None:
    return Region.objects.filter(code=code).first()


def operator_by_credit_code(code: str) -> Operator | None:
    return Operator.objects.filter(credit_code=(code or "").strip().upper()).first()


@transaction.atomic
def lots_import(*, actor, region: Region, rows: Iterable[inventory.InventoryRow], digest: str,
                source: str = "") -> inventory.ImportReport:
    """Import a region's lot inventory (底册清单) as previewed: ``digest`` is the preview's
    (``inventory.plan_import``), and the import is refused (``ImportStale``) unless the rows, checked
    again with the lots locked, would write exactly that. One bad row means nothing is saved. Only
    staff covering ``region`` may import into it; each lot is written by ``lot_save`` and its history
    says who imported it and from which file (``source``).

    ``rows`` come from ``inventory.read_inventory``; the report lists each problem by row and column.
    """
    scope = scope_of(actor) if actor is not None else None
    if scope is not None and not scope.city_wide and region.pk not in scope.region_ids:
        raise OutOfScope(_("只能导入本人负责区域的底册"), field="region")
    plan = inventory.plan_import(list(rows), region=region, actor=actor, lock=True)
    report = inventory.ImportReport(errors=plan.errors)
    if not plan.ok:
        return report
    if plan.digest != digest:
        raise ImportStale(_("预览之后数据已有变化（停车场、经营单位或收费标准被修改），请核对最新的预览后再确认"))
    reason = _("底册导入：%(file)s") % {"file": source} if source else _("底册导入")
    current = None
    try:
        with transaction.atomic():
            for item in plan.lots:
                if item.action == "unchanged":
                    continue
                current = item
                item.lot._history_user = actor
                item.lot._change_reason = reason
                lot_save(lot=item.lot, actor=actor)
    except DomainError as exc:
        # A row that passed the checks but a service refused: the savepoint has undone every earlier row.
        report.errors = [inventory.RowError(current.number, inventory.column_for_field(exc.field), exc.message)]
        return report
    except IntegrityError:
        # A code registered by someone else between the check and the insert.
        report.errors = [inventory.RowError(current.number, inventory.column_for_field("code"),
                                            _("编码 %(code)s 刚被登记，请重新预览") % {"code": current.lot.code})]
        return report
    report.created = len(plan.of("create"))
    report.updated = len(plan.of("update"))
    report.unchanged = len(plan.of("unchanged"))
    return report


@transaction.atomic
def device_change(*, device: Device, name: str, kind: str, lots: Iterable[ParkingLot], actor=None) -> Device:
    """Rename a device or change the lots it may report for; every lot, before and after, must be
    in the actor's scope."""
    device = _lock_device(device=device, actor=actor)
    chosen = list(lots)
    if not chosen:
        raise LotError(_("至少选择一个停车场"), field="lots")
    for lot in chosen:
        ensure_lot_in_scope(actor=actor, lot=lot)
    device.name, device.kind = name, kind
    _full_clean(device, exclude=["lots"])
    device._history_user = actor
    device.save(update_fields=["name", "kind"])
    device.lots.set(chosen)
    return device
