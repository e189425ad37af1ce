"""A lot's forecast (SPEC §4 ``forecast``), answered through a port (STYLE.md "Ports").

The forecast is made and judged by apps.analytics, which sits above the registry: it registers a
source from its ``AppConfig.ready()`` with ``register_forecast_source`` and this app never imports
it. A source is a function returning a query expression, evaluated against ``ParkingLot`` rows
(``OuterRef("pk")`` is the lot), whose value is the lot's forecast as a JSON object
``{"in_15_min": n, "in_30_min": n, "in_60_min": n}`` or NULL. Being part of the lots' own query, it
costs no query of its own: a page of lots, the map's snapshot and a lot's detail each stay one
query, however many lots there are. With nothing registered every lot's forecast is null.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Expression, JSONField, Value

HORIZON_KEYS = ("in_15_min", "in_30_min", "in_60_min")

ForecastSource = Callable[[], Expression]

_source: ForecastSource | None = None


def register_forecast_source(source: ForecastSource | None) -> None:
    global _source
    _source = source


def forecast_expression() -> Expression:
    """The expression that annotates a lot with its forecast (NULL when none may be shown)."""
    if _source is None:
        return Value(None, output_field=JSONField())
    return _source()


def forecast_value(raw) -> dict[str, int] | None:
    """The annotated value as the API gives it: the three horizons, whole numbers, in SPEC order;
    None for NULL or for anything not of that shape."""
    if not isinstance(raw, dict):
        return None
    values = [raw.get(key) for key in HORIZON_KEYS]
    if not all(isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in values):
        return None
    return dict(zip(HORIZON_KEYS, values, strict=True))
