"""Writes to the registry of regions, operators and staff scope."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, diff, field_values
from apps.common.scope import may_change

from .errors import OutOfScope, RegistryError
from .models import Operator, Region, StaffScope

OPERATOR_FIELDS = ("name", "credit_code", "ownership", "region", "contact_name", "contact_phone",
                   "settlement_bank", "settlement_account_name", "settlement_account_no")
REGION_FIELDS = ("name",)

# GB/T 2260 divisions of Wuxi, plus the economic development zone (no GB code: a local code
# with letters, so it can never collide with a future GB code).
WUXI_REGIONS = [
    ("320200", "无锡市", Region.Level.CITY, None),
    ("320205", "锡山区", Region.Level.DISTRICT, "320200"),
    ("320206", "惠山区", Region.Level.DISTRICT, "320200"),
    ("320211", "滨湖区", Region.Level.DISTRICT, "320200"),
    ("320213", "梁溪区", Region.Level.DISTRICT, "320200"),
    ("320214", "新吴区", Region.Level.DISTRICT, "320200"),
    ("320281", "江阴市", Region.Level.COUNTY_CITY, "320200"),
    ("320282", "宜兴市", Region.Level.COUNTY_CITY, "320200"),
    ("3202JK", "无锡经济开发区", Region.Level.MANAGEMENT_AREA, "320200"),
]


@transaction.atomic
def regions_load_wuxi() -> dict[str, Region]:
    """Create or refresh Wuxi's divisions; idempotent."""
    regions: dict[str, Region] = {}
    for code, name, level, parent_code in WUXI_REGIONS:
        region, _ = Region.objects.update_or_create(
            code=code, defaults={"name": name, "level": level, "parent": regions.get(parent_code)}
        )
        regions[code] = region
    return regions


# What each kind of staff may do in the admin; the rows they may touch are decided by scope.
_STAFF_PERMISSIONS = {
    StaffScope.Kind.CITY: {
        "regions": ["view_region", "change_region", "view_operator", "add_operator", "change_operator"],
        "lots": ["view_parkinglot", "add_parkinglot", "change_parkinglot", "view_tariff", "add_tariff",
                 "change_tariff", "view_device", "add_device", "change_device", "view_lotoutage",
                 "view_freewindow", "add_freewindow", "change_freewindow", "delete_freewindow"],
        "berths": ["view_berth", "add_berth", "change_berth", "delete_berth"],
        # The city's auditors also read who saw which full plates (PIPL, apps.audit.PlateView).
        "audit": ["view_auditentry", "view_plateview"],
    },
    StaffScope.Kind.REGION: {
        "regions": ["view_region", "view_operator", "add_operator", "change_operator"],
        "lots": ["view_parkinglot", "add_parkinglot", "change_parkinglot", "view_tariff", "add_tariff",
                 "change_tariff", "view_device", "add_device", "change_device", "view_lotoutage",
                 "view_freewindow", "add_freewindow", "change_freewindow", "delete_freewindow"],
        "berths": ["view_berth", "add_berth", "change_berth", "delete_berth"],
        "audit": ["view_auditentry"],
    },
    StaffScope.Kind.OPERATOR: {
        "regions": ["view_operator"],
        "lots": ["view_parkinglot", "change_parkinglot", "view_tariff", "view_device", "view_lotoutage",
                 "view_freewindow"],
        "berths": ["view_berth", "add_berth", "change_berth"],
        "audit": ["view_auditentry"],
    },
}
GROUP_NAMES = {
    StaffScope.Kind.CITY: "市级管理员",
    StaffScope.Kind.REGION: "区域管理员",
    StaffScope.Kind.OPERATOR: "经营单位管理员",
}


def extend_staff_permissions(kind: str, app_label: str, codenames: list[str]) -> None:
    """Later apps add the permissions their admin needs for a kind of staff."""
    _STAFF_PERMISSIONS[kind].setdefault(app_label, [])
    for codename in codenames:
        if codename not in _STAFF_PERMISSIONS[kind][app_label]:
            _STAFF_PERMISSIONS[kind][app_label].append(codename)


@transaction.atomic
def staff_groups_ensure() -> dict[str, Group]:
    groups = {}
    for kind, by_app in _STAFF_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=GROUP_NAMES[kind])
        perms = []
        for app_label, codenames in by_app.items():
            perms += list(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        group.permissions.set(perms)
        groups[kind] = group
    return groups


@transaction.atomic
def staff_grant_default_permissions(*, user) -> None:
    """Put a member of staff in the group that matches their scope."""
    scope = StaffScope.objects.get(user=user)
    groups = staff_groups_ensure()
    user.groups.remove(*[g for k, g in groups.items() if k != scope.kind])
    user.groups.add(groups[scope.kind])


def _full_clean(obj) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items())) if hasattr(exc, "error_dict") else (None, exc.messages)
        raise RegistryError(str(errors[0]), field=None if field == "__all__" else field,
                            details={"fields": getattr(exc, "message_dict", {})}) from exc


def _history_user(actor):
    return getattr(actor, "user", actor)


@transaction.atomic
def operator_save(*, operator: Operator, actor=None) -> Operator:
    """Register or change an operator (经营单位). Staff change only operators registered in their
    region (or their own, for an operator's staff): a city-level operator running a district's lots
    is the city's to change, settlement account included."""
    if actor is not None and not may_change(actor, operator):
        raise OutOfScope(_("只能登记、修改本人负责区域注册的经营单位"), field="region")
    created = operator.pk is None
    before = {} if created else field_values(Operator.objects.select_for_update().get(pk=operator.pk),
                                             OPERATOR_FIELDS)
    operator.credit_code = (operator.credit_code or "").strip().upper()
    _full_clean(operator)
    if actor is not None:
        operator._history_user = _history_user(actor)
    operator.save()
    changes = diff(before, field_values(operator, OPERATOR_FIELDS))
    if created or changes:
        audit_record(action="operator.created" if created else "operator.changed", actor=actor, obj=operator,
                     changes=changes)
    return operator


@transaction.atomic
def region_rename(*, region: Region, name: str, actor=None) -> Region:
    """Fix a division's name; its code, level and parent come from GB/T 2260 and stay."""
    if actor is not None and not may_change(actor, region):
        raise OutOfScope(_("无权修改该区域"))
    locked = Region.objects.select_for_update().get(pk=region.pk)
    before = field_values(locked, REGION_FIELDS)
    locked.name = name
    _full_clean(locked)
    locked.save(update_fields=["name"])
    changes = diff(before, field_values(locked, REGION_FIELDS))
    if changes:
        audit_record(action="region.changed", actor=actor, obj=locked, changes=changes)
    region.name = locked.name
    return locked
