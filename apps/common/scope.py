"""Staff scope: the one place that decides which rows a member of staff may see.

Each scoped model declares how its rows reach a region and an operator (``ScopePaths``) and uses
``ScopedQuerySet``; ``for_user(user)`` is what the admin mixin and the API permissions call.
A superuser or a city-wide scope sees everything; a region scope sees its region and the regions
below it; an operator scope sees that operator's rows; staff without a scope see nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.db.models import Q


@dataclass(frozen=True)
class ScopePaths:
    region: str | tuple[str, ...] | None = None  # lookup(s) from the model to a Region pk
    operator: str | tuple[str, ...] | None = None  # lookup(s) from the model to an Operator pk
    through_many: bool = False  # a path crosses a many-to-many: filter by pk subquery to avoid duplicates
    shared: str | None = None  # rows where this lookup is null are shared city-wide (seen by all staff)


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
    """What ``user`` may see. Cached on the user object for the request."""
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


class ScopedQuerySet(models.QuerySet):
    def scope_q(self, scope: Scope) -> Q | None:
        """The filter for ``scope``; None means no restriction."""
        if scope.city_wide:
            return None
        paths: ScopePaths = self.model.scope_paths
        q = Q(pk__in=[])
        for ids, lookups in ((scope.region_ids, paths.region), (scope.operator_ids, paths.operator)):
            if ids and lookups:
                for lookup in (lookups,) if isinstance(lookups, str) else lookups:
                    q |= Q(**{f"{lookup}__in": ids})
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
