"""What a lot's card tells about booking there (issue 9: the EV booking rule on the map's card).

Bookings are the reservations work's (``apps.reservations``), which sits above the registry: the
lots app asks through this port and never imports it (``.importlinter``). ``apps.reservations``
registers its answer in ``AppConfig.ready()`` with ``register_booking_rules``. With nothing
registered a lot has no booking rules to show.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``rules(lot)`` → the lot's booking rules as sentences a citizen reads (in the request's language)
BookingRules = Callable[[object], list[str]]

_rules: BookingRules | None = None


def register_booking_rules(rules: BookingRules | None) -> None:
    """``None`` removes it."""
    global _rules
    _rules = rules


def booking_rules(lot) -> list[str]:
    if _rules is None or lot is None:
        return []
    return [str(rule) for rule in _rules(lot)]
