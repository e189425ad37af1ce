"""What the platform holds about one plate, for its verified owner (PIPL: the right to a copy).

Each app knows its own rows that name a plate (stays and events, money, tickets, bookings, the
binding itself); the export endpoint (``apps.wechat``) must not import them all, and the lower apps
must not import it. So each app registers an exporter here from ``AppConfig.ready()``:
``register_plate_exporter("sessions", fn)``, where ``fn(plate)`` returns plain JSON values (lists
of dicts) for that normalised plate. ``export_plate`` calls every exporter in registration order
and returns ``{name: rows}``. With nothing registered the export is empty, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

PlateExporter = Callable[[str], Any]

_exporters: dict[str, PlateExporter] = {}


def register_plate_exporter(name: str, exporter: PlateExporter) -> None:
    """``exporter(plate)`` returns what the app holds about ``plate`` (normalised), JSON-ready."""
    _exporters[name] = exporter


def exporter_names() -> list[str]:
    return list(_exporters)


def _local(value):
    """Times as the rest of the API gives them: local (Asia/Shanghai) with their offset."""
    if isinstance(value, datetime):
        return timezone.localtime(value) if timezone.is_aware(value) else value
    if isinstance(value, dict):
        return {key: _local(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_local(item) for item in value]
    return value


def export_plate(plate: str) -> dict[str, Any]:
    return {name: _local(exporter(plate)) for name, exporter in _exporters.items()}
