from __future__ import annotations

from apps.common.scope import CITY_SCOPE, NO_SCOPE, Scope

from .models import Region, StaffScope


def region_with_descendants(region_id: int) -> frozenset[int]:
    """The region and every region below it (the tree is a few dozen rows)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Region.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, stack = set(), [region_id]
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, ()))
    return frozenset(found)


def scope_for_staff(user) -> Scope:
    if not user.is_staff:
        return NO_SCOPE
    staff_scope = StaffScope.objects.filter(user=user).first()
    if staff_scope is None:
        return NO_SCOPE
    if staff_scope.kind == StaffScope.Kind.CITY:
        return CITY_SCOPE
    if staff_scope.kind == StaffScope.Kind.REGION:
        return Scope(region_ids=region_with_descendants(staff_scope.region_id))
    return Scope(operator_ids=frozenset({staff_scope.operator_id}))
