"""Writing the audit log: called by the services staff trigger, inside their transaction."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from apps.common.actor import as_actor

from .models import AuditEntry


def _json(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return sorted((_json(v) for v in value), key=str) if isinstance(value, (set, frozenset)) else [
            _json(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool, dict)):
        return value
    return str(value)


def field_values(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The stored form of ``fields`` on ``obj`` (foreign keys as ids), to diff before and after."""
    values = {}
    for name in fields:
        field = obj._meta.get_field(name)
        values[name] = _json(getattr(obj, field.attname))
    return values


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    """``{field: [old, new]}`` for the fields whose value differs."""
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


def audit_record(*, action: str, actor, obj: models.Model | None = None,
                 changes: Mapping[str, Any] | None = None) -> AuditEntry | None:
    """One entry for one staff action. Nothing is written for the system itself (``actor`` None):
    the log answers which member of staff did what."""
    actor = as_actor(actor)
    if actor is None or actor.user is None:
        return None
    user = actor.user if getattr(actor.user, "pk", None) else None
    return AuditEntry.objects.create(
        action=action,
        actor=user,
        actor_name=getattr(actor.user, "get_username", lambda: "")() if user else "",
        content_type=ContentType.objects.get_for_model(type(obj)) if obj is not None else None,
        object_id=obj.pk if obj is not None else None,
        object_repr=str(obj)[:200] if obj is not None else "",
        changes={name: [_json(old), _json(new)] for name, (old, new) in (changes or {}).items()},
        ip=actor.ip or None,
        user_agent=actor.user_agent or "",
    )
