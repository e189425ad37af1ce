"""Writes to the registry of regions, operators and staff scope."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from .models import Region, StaffScope

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
    },
    StaffScope.Kind.REGION: {
        "regions": ["view_region", "view_operator", "add_operator", "change_operator"],
        "lots": ["view_parkinglot", "add_parkinglot", "change_parkinglot", "view_tariff", "add_tariff",
                 "change_tariff", "view_device", "add_device", "change_device", "view_lotoutage",
                 "view_freewindow", "add_freewindow", "change_freewindow", "delete_freewindow"],
        "berths": ["view_berth", "add_berth", "change_berth", "delete_berth"],
    },
    StaffScope.Kind.OPERATOR: {
        "regions": ["view_operator"],
        "lots": ["view_parkinglot", "change_parkinglot", "view_tariff", "view_device", "view_lotoutage",
                 "view_freewindow"],
        "berths": ["view_berth", "add_berth", "change_berth"],
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
