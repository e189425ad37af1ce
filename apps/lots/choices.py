"""What a member of staff may choose for a lot's region, operator and tariff.

One answer for the lot admin form and the inventory import: an import can never assign a lot to a
region, an operator or a tariff the lot form would not offer the same member of staff (a 梁溪
officer can't hand a lot, and with it the reach of its settlement account, to an operator that is
neither registered in 梁溪 nor running a lot there).
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.regions.models import Operator, Region

from .models import Tariff

#: the lot's foreign keys whose choices depend on who is choosing
LOT_CHOICE_FIELDS = ("region", "operator", "tariff")

_MODELS = {"region": Region, "operator": Operator, "tariff": Tariff}


def lot_choices(field: str, actor) -> QuerySet:
    """The rows ``actor`` may pick for the lot field ``field`` (``actor`` None: the system, anything).

    A region is one the actor may write to (``writable_by``); an operator or a tariff is one their
    scope lets them see (``for_user``), city-wide tariffs included.
    """
    queryset = _MODELS[field].objects.all()
    if actor is None:
        return queryset
    if field == "region":
        return queryset.writable_by(actor)  # a lot may only be placed where its officer may change it
    return queryset.for_user(actor)
