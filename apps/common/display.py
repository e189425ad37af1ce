"""Field names and values as staff read them: verbose names, choice labels, related names, local
times, 是/否 — for the history pages and the audit log, never raw ``hospital → public`` or ``None``.

Related rows outside the reader's scope are not named, only counted ("另有 2 个其他辖区的停车场").
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .scope import scope_of

EMPTY = "—"
JSON_MAX = 300


def field_label(model: type[models.Model], name: str) -> str:
    try:
        return str(capfirst(model._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:
        return name


def _pk_of(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dict):  # simple_history's m2m rows: {"device": 1, "parkinglot": 2}
        return None
    return getattr(value, "pk", value)


def related_label(related: type[models.Model], values: Iterable, user=None) -> str:
    """Names of the related rows ``values`` (objects or ids), those outside ``user``'s scope counted."""
    ids = [pk for pk in (_pk_of(v) for v in values) if pk is not None]
    if not ids:
        return EMPTY
    manager = related._default_manager.all()
    rows = manager.filter(pk__in=ids)
    if user is not None and hasattr(manager, "for_user") and not scope_of(user).city_wide:
        rows = rows.for_user(user)
    names = [str(row) for row in rows]
    text = "、".join(names) if names else ""
    hidden = len(set(ids)) - len(names)
    if hidden:
        other = _("另有 %(n)d 个其他辖区的%(what)s") % {"n": hidden, "what": related._meta.verbose_name}
        text = f"{text}（{other}）" if text else other
    return text


def value_label(model: type[models.Model], name: str, value, user=None) -> str:
    """``value`` of field ``name`` as staff read it."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is not None and (field.many_to_many or field.one_to_many):
        related = field.related_model
        items = []
        for item in value or ():
            if isinstance(item, dict):  # a history m2m row
                item = next((v for k, v in item.items() if k == related._meta.model_name), None)
            items.append(item)
        return related_label(related, items, user)
    if value is None or value == "":
        return EMPTY
    if field is not None and field.many_to_one:
        if isinstance(value, models.Model):
            return related_label(type(value), [value], user) if hasattr(type(value), "scope_paths") else str(value)
        return related_label(field.related_model, [value], user)
    if field is not None and field.choices:
        labels = {str(k): v for k, v in field.flatchoices}
        return str(labels.get(str(value), value))
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, (dict, list)):  # a tariff's rules: readable JSON, Chinese unescaped, bounded
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        return text if len(text) <= JSON_MAX else text[:JSON_MAX] + "…"
    if isinstance(value, str) and isinstance(field, models.DateTimeField):
        value = parse_datetime(value) or value
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
