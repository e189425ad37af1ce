"""Writes to the lot registry: lots, tariffs, device credentials, inventory import."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, diff, field_values
from apps.common.errors import DomainError
from apps.common.geo import gcj02_to_wgs84
from apps.common.scope import may_change
from apps.realtime.publish import publish_lots_after_commit
from apps.regions.models import Operator, Region

from . import credentials, inventory
from .errors import ImportStale, InvalidTariff, LotError, OutOfScope
from .models import Device, FreeWindow, ParkingLot, Tariff
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


# What staff edit on a lot, diffed for the audit log (the live fields belong to ingest).
REGISTRY_FIELDS = tuple(
    f.name for f in ParkingLot._meta.concrete_fields
    if f.name not in {"id", "created_at", "updated_at", *LIVE_FIELDS}
)
# What the map shows of a lot besides its count: a change is pushed at once, not at the next refresh.
MAP_FIELDS = ("status", "total_berths", "lat", "lon")


def ensure_may_change(*, actor, obj, message=None, field: str | None = None) -> None:
    """The one write rule (``apps.common.scope.may_change``) as a service precondition; actor None
    is the system."""
    if actor is not None and not may_change(actor, obj):
        raise OutOfScope(message or _("无权操作该对象"), field=field)


def ensure_lot_in_scope(*, actor, lot: ParkingLot) -> None:
    """An actor may only write lots their scope lets them change (actor None = system)."""
    ensure_may_change(actor=actor, obj=lot, message=_("无权操作该停车场"), field="region")


def _to_wgs84(lot: ParkingLot) -> None:
    if lot.source_coord_system == ParkingLot.CoordSystem.GCJ02 and lot.lat is not None and lot.lon is not None:
        lot.lat, lot.lon = gcj02_to_wgs84(lot.lat, lot.lon)


@transaction.atomic
def lot_save(*, lot: ParkingLot, actor=None, coords_in_source_system: bool = False) -> ParkingLot:
    """Create or update a lot. The actor must cover both the old and the new region/operator;
    coordinates given in GCJ-02 are converted and stored as WGS-84."""
    if actor is not None and not may_change(actor, lot):
        raise OutOfScope(_("只能在本人负责的区域或经营单位内登记、修改停车场"), field="region")
    before: dict = {}
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
            before = field_values(current, REGISTRY_FIELDS)
            for field in LIVE_FIELDS:
                setattr(lot, field, getattr(current, field))
            lot.free_berths = min(lot.free_berths, lot.total_berths)
    created = lot.pk is None
    _full_clean(lot)
    if actor is not None:
        lot._history_user = getattr(actor, "user", actor)
    lot.save()
    changes = diff(before, field_values(lot, REGISTRY_FIELDS))
    if created or changes:
        audit_record(action=_lot_action(created, changes), actor=actor, obj=lot, changes=changes)
    if not created and any(name in changes for name in MAP_FIELDS):
        publish_lots_after_commit([lot.pk])  # the map hears of a closed lot now, the same path as ingest
    return lot


def _lot_action(created: bool, changes: dict) -> str:
    if created:
        return "lot.created"
    if "status" in changes:
        return "lot.closed" if changes["status"][1] == ParkingLot.Status.CLOSED else "lot.opened"
    return "lot.changed"


TARIFF_FIELDS = ("name", "key", "region", "source", "is_demo", "rules")


@transaction.atomic
def tariff_save(*, tariff: Tariff, actor=None) -> Tariff:
    """A tariff is saved only if the fee engine accepts every rule in it."""
    tariff_rules_check(tariff.rules)
    ensure_may_change(actor=actor, obj=tariff, message=_("只能编辑本区域的收费标准"), field="region")
    created = tariff.pk is None
    before = {} if created else field_values(Tariff.objects.select_for_update().get(pk=tariff.pk), TARIFF_FIELDS)
    _full_clean(tariff, error_class=InvalidTariff)
    if actor is not None:
        tariff._history_user = getattr(actor, "user", actor)
    tariff.save()
    after = field_values(tariff, TARIFF_FIELDS)
    changes = diff(before, after)
    if created or changes:
        audit_record(action="tariff.created" if created else "tariff.changed", actor=actor, obj=tariff,
                     changes=changes)
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
    device._history_user = getattr(actor, "user", actor)
    device.save()
    device.lots.set(lots)
    audit_record(action="device.issued", actor=actor, obj=device,
                 changes={"name": [None, device.name], "kind": [None, device.kind],
                          "lots": [None, sorted(lot.pk for lot in lots)]})
    return device, secret


def device_fully_in_scope(*, device: Device, actor) -> bool:
    """A device reporting for several lots is the actor's to change only if every one of them is:
    rotating or revoking a shared key would otherwise reach into another region's feed."""
    return actor is None or may_change(actor, device)


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
    old_fingerprint = device.secret_fingerprint
    secret = credentials.new_secret()
    device.secret_encrypted = credentials.encrypt_secret(secret)
    device.secret_fingerprint = credentials.fingerprint(secret)
    device.issued_at = timezone.now()
    device.revoked_at = None
    device._history_user = getattr(actor, "user", actor)
    device.save(update_fields=["secret_encrypted", "secret_fingerprint", "issued_at", "revoked_at"])
    audit_record(action="device.key_rotated", actor=actor, obj=device,
                 changes={"secret_fingerprint": [old_fingerprint, device.secret_fingerprint]})
    return secret


@transaction.atomic
def device_revoke(*, device: Device, actor=None) -> Device:
    """Revoke a device's key: every later request with it is refused as unknown_key."""
    device = _lock_device(device=device, actor=actor)
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device._history_user = getattr(actor, "user", actor)
        device.save(update_fields=["revoked_at"])
        audit_record(action="device.revoked", actor=actor, obj=device,
                     changes={"revoked_at": [None, device.revoked_at]})
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
    ensure_may_change(actor=actor, obj=region, message=_("只能导入本人负责区域的底册"), field="region")
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
    before = {"name": device.name, "kind": device.kind, "lots": sorted(device.lots.values_list("pk", flat=True))}
    device.name, device.kind = name, kind
    _full_clean(device, exclude=["lots"])
    device._history_user = getattr(actor, "user", actor)
    device.save(update_fields=["name", "kind"])
    device.lots.set(chosen)
    changes = diff(before, {"name": name, "kind": kind, "lots": sorted(lot.pk for lot in chosen)})
    if changes:
        audit_record(action="device.changed", actor=actor, obj=device, changes=changes)
    return device


FREE_WINDOW_FIELDS = ("name", "starts_at", "ends_at", "region", "lot")


@transaction.atomic
def free_window_save(*, window: FreeWindow, actor=None) -> FreeWindow:
    """A free period (holiday, school pick-up) for a region or a lot the actor may change; a
    city-wide one (no region, no lot) is the city's."""
    ensure_may_change(actor=actor, obj=window, message=_("请选择本人负责的区域或停车场；全市免费时段由市级管理员设置"),
                      field="region")
    created = window.pk is None
    before = {} if created else field_values(FreeWindow.objects.select_for_update().get(pk=window.pk),
                                             FREE_WINDOW_FIELDS)
    _full_clean(window)
    if actor is not None:
        window._history_user = getattr(actor, "user", actor)
    window.save()
    changes = diff(before, field_values(window, FREE_WINDOW_FIELDS))
    if created or changes:
        audit_record(action="free_window.created" if created else "free_window.changed", actor=actor, obj=window,
                     changes=changes)
    return window


@transaction.atomic
def free_window_delete(*, window: FreeWindow, actor=None) -> None:
    ensure_may_change(actor=actor, obj=window, message=_("无权删除该免费时段"))
    locked = FreeWindow.objects.select_for_update().filter(pk=window.pk).first()
    if locked is None:
        return
    audit_record(action="free_window.deleted", actor=actor, obj=locked,
                 changes={name: [value, None] for name, value in field_values(locked, FREE_WINDOW_FIELDS).items()})
    if actor is not None:
        locked._history_user = getattr(actor, "user", actor)
    locked.delete()
