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

    Today this is what the actor's scope lets them see (``for_user``), city-wide tariffs included; the
    import narrows regions further to those the actor may write to (``import_regions``).
    """
    queryset = _MODELS[field].objects.all()
    return queryset if actor is None else queryset.for_user(actor)


def import_regions(actor) -> QuerySet:
    """The regions ``actor`` may import lots into: offered by the lot form and within the write rule."""
    return lot_choices("region", actor).writable_by(actor)
