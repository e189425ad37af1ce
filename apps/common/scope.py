"""Staff scope: the one place that decides which rows a member of staff may see and change.

Each scoped model declares how its rows reach a region and an operator (``ScopePaths``) and uses
``ScopedQuerySet``; ``for_user(user)`` is what the admin mixin and the API permissions call.
A superuser or a city-wide scope sees everything; a region scope sees its region and the regions
below it; an operator scope sees that operator's rows; staff without a scope see nothing.

Reading may be wider than writing: a district officer sees the city-level operator that runs lots
in the district, and a tariff shared city-wide, but may change neither. ``ScopePaths.write`` names
the paths that decide writes (by default the read paths, without the shared rows), and ``every``
a to-many relation whose every row must be writable (a key shared by lots in two districts is
changed only by staff covering both). ``may_change(user, obj)`` and ``writable_by(user)`` are the
one rule that services, the admin (change/delete permissions, actions) and the staff API use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.db.models import Q

from .actor import Actor


@dataclass(frozen=True)
class ScopePaths:
    region: str | tuple[str, ...] | None = None  # lookup(s) from the model to a Region pk
    operator: str | tuple[str, ...] | None = None  # lookup(s) from the model to an Operator pk
    through_many: bool = False  # a path crosses a many-to-many: filter by pk subquery to avoid duplicates
    shared: str | None = None  # rows where this lookup is null are shared city-wide (seen by all staff)
    write: ScopePaths | None = None  # the paths that decide writes; None: these paths, shared rows excluded
    every: str | None = None  # a to-many relation every row of which must be writable (on the write paths)

    @property
    def write_paths(self) -> ScopePaths:
        if self.write is not None:
            return self.write
        return ScopePaths(region=self.region, operator=self.operator, through_many=self.through_many)


@dataclass(frozen=True)
class Scope:
    city_wide: bool = False
    region_ids: frozenset[int] = frozenset()
    operator_ids: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.city_wide or self.region_ids or self.operator_ids)


NO_SCOPE = Scope()
CITY_SCOPE = Scope(city_wide=True)


# Who decides a member of staff's scope: the regions app (which holds StaffScope) registers it,
# so this module needs no import of any app.
_staff_scope_resolver: Callable[[object], Scope] | None = None


def register_staff_scope_resolver(resolver: Callable[[object], Scope]) -> None:
    global _staff_scope_resolver
    _staff_scope_resolver = resolver


def scope_of(user) -> Scope:
    """What ``user`` (or an ``Actor``) may see. Cached on the user object for the request."""
    if isinstance(user, Actor):
        user = user.user
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_SCOPE
    cached = getattr(user, "_wxp_scope", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        scope = CITY_SCOPE
    elif _staff_scope_resolver is None:
        raise RuntimeError("no staff scope resolver registered (the regions app registers it when ready)")
    else:
        scope = _staff_scope_resolver(user)
    user._wxp_scope = scope
    return scope


def as_tuple(lookups) -> tuple[str, ...]:
    if not lookups:
        return ()
    return (lookups,) if isinstance(lookups, str) else tuple(lookups)


def _paths_q(scope: Scope, paths: ScopePaths) -> Q:
    q = Q(pk__in=[])
    for ids, lookups in ((scope.region_ids, paths.region), (scope.operator_ids, paths.operator)):
        if ids:
            for lookup in as_tuple(lookups):
                q |= Q(**{f"{lookup}__in": ids})
    return q


class ScopedQuerySet(models.QuerySet):
    def scope_q(self, scope: Scope) -> Q | None:
        """The filter for ``scope``; None means no restriction."""
        if scope.city_wide:
            return None
        paths: ScopePaths = self.model.scope_paths
        q = _paths_q(scope, paths)
        if paths.shared and not scope.empty:
            q |= Q(**{f"{paths.shared}__isnull": True})
        return q

    def for_scope(self, scope: Scope):
        q = self.scope_q(scope)
        if q is None:
            return self
        if self.model.scope_paths.through_many:
            return self.filter(pk__in=self.model._base_manager.filter(q).values("pk"))
        return self.filter(q)

    def for_user(self, user):
        return self.for_scope(scope_of(user))

    def writable_for_scope(self, scope: Scope):
        """The rows ``scope`` may change (see the module docstring)."""
        if scope.city_wide:
            return self
        if scope.empty:
            return self.none()
        every = self.model.scope_paths.every
        paths = self.model.scope_paths.write_paths
        base = self.model._base_manager
        rows = self
        if paths.region or paths.operator:
            q = _paths_q(scope, paths)
            rows = rows.filter(pk__in=base.filter(q).values("pk")) if paths.through_many else rows.filter(q)
        elif not every:
            return self.none()
        if every:
            related = self.model._meta.get_field(every).related_model
            writable = related._default_manager.all().writable_for_scope(scope).values("pk")
            outside = related._base_manager.exclude(pk__in=writable).values("pk")
            rows = rows.filter(pk__in=base.filter(**{f"{every}__in": writable}).values("pk")).exclude(
                pk__in=base.filter(**{f"{every}__in": outside}).values("pk"))
        return rows

    def writable_by(self, user):
        """The rows ``user`` may change: the one write rule, for querysets."""
        return self.writable_for_scope(scope_of(user))


def may_change(user, obj) -> bool:
    """Whether ``user`` (or an ``Actor``) may change ``obj`` as it is stored and save it with the
    values it now holds: both the row in the database and the values being saved must fall inside
    the user's write scope, so nothing is moved out of (or into) a district its officer doesn't run.
    An unsaved object is judged by its values alone; a path only the database can follow on an
    unsaved object (a many-to-many) is left to the service that sets it."""
    scope = scope_of(user)
    if scope.city_wide:
        return True
    if scope.empty or not hasattr(type(obj), "scope_paths"):
        return False
    if obj.pk is not None and not type(obj)._default_manager.all().writable_for_scope(scope).filter(
            pk=obj.pk).exists():
        return False
    return values_writable(scope, obj)


def values_writable(scope: Scope, obj) -> bool:
    """Whether the values on ``obj`` (saved or not) place it inside ``scope``'s write paths."""
    if scope.city_wide:
        return True
    if scope.empty:
        return False
    paths = type(obj).scope_paths.write_paths
    judged = False
    for ids, lookups in ((scope.region_ids, paths.region), (scope.operator_ids, paths.operator)):
        for lookup in as_tuple(lookups):
            found = attr_ids(obj, lookup)
            if found is None:
                continue
            judged = True
            if found & ids:
                return True
    return not judged


def attr_ids(obj, lookup: str) -> set | None:
    """The primary keys ``lookup`` reaches from ``obj`` by attributes; None when it can't be told
    without the database rows of an unsaved object."""
    from django.core.exceptions import FieldDoesNotExist

    if lookup == "pk":
        return None if obj.pk is None else {obj.pk}
    current: list = [obj]
    parts = lookup.split("__")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        following: list = []
        for item in current:
            try:
                field = item._meta.get_field(part)
            except FieldDoesNotExist:
                return None
            if field.many_to_many or field.one_to_many:
                if item.pk is None:
                    return None
                accessor = field.get_accessor_name() if field.auto_created and not field.concrete else field.name
                manager = getattr(item, accessor)
                if last:
                    following.extend(manager.values_list("pk", flat=True))
                else:
                    following.extend(manager.all())
            elif last:
                value = getattr(item, field.attname)
                if value is not None:
                    following.append(value)
            else:
                related = getattr(item, part)
                if related is not None:
                    following.append(related)
        current = following
    return set(current)
