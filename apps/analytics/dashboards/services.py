"""Writes of the dashboards' rows: the targets staff set."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, diff, field_values
from apps.common.actor import user_of
from apps.common.errors import DomainError, Forbidden
from apps.common.scope import may_change

from ..models import Target

TARGET_FIELDS = ("metric", "year", "region", "percent", "basis", "provisional")


class TargetInvalid(DomainError):
    code = "invalid_target"


@transaction.atomic
def target_save(*, target: Target, actor=None) -> Target:
    """Set a goal. City-wide goals are the city's to set; a district's own goal, its officers' or the
    city's. One goal per metric, year and region."""
    if actor is not None and not may_change(actor, target):
        raise Forbidden(_("只能设置本人负责区域的目标；全市目标由市级管理员设置"), field="region")
    created = target.pk is None
    before = {} if created else field_values(Target.objects.select_for_update().get(pk=target.pk), TARGET_FIELDS)
    try:
        target.full_clean()
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        raise TargetInvalid(str(errors[0]), field=None if field == "__all__" else field) from exc
    if actor is not None:
        target._history_user = user_of(actor)
    target.save()
    changes = diff(before, field_values(target, TARGET_FIELDS))
    if created or changes:
        audit_record(action="target.created" if created else "target.changed", actor=actor, obj=target,
                     changes=changes)
    return target
