"""Admin building blocks every app's admin uses: scope, saves through services, CSV export.

``ScopedAdminMixin`` is the admin side of ``apps.common.scope``: the changelist, search,
autocomplete (Django's autocomplete view asks the target model's admin for its queryset), the
change page, actions and exports all start from ``get_queryset``, which is ``for_user``. Choices
offered for foreign keys and many-to-many fields are scoped the same way, so a guessed id in a
POST is refused by the form field ("select a valid choice").

Saves go through services. A service refuses with a ``DomainError``; the mixin rolls the whole
save back (the admin's own transaction) and shows the form again with the error on the field the
error names, so nothing is ever half-saved. Use it like::

    @admin.register(Thing)
    class ThingAdmin(ScopedAdminMixin, admin.ModelAdmin):
        def save_model(self, request, obj, form, change):
            thing_save(thing=obj, actor=Actor.from_request(request))   # DomainError → form error

This module registers nothing: it is imported by the apps' admin modules.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime

from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from .display import field_label, value_label
from .errors import DomainError
from .scope import as_tuple, may_change, scope_of, values_writable

__all__ = [
    "ReadOnlyAdminMixin",
    "ScopedAdminMixin",
    "ScopedChoicesMixin",
    "ScopedHistoryAdmin",
    "export_csv",
    "form_field_for_error",
    "message_domain_error",
    "null_filter",
]

logger = logging.getLogger(__name__)

_REFUSAL_ATTR = "_wxp_service_refusal"
_WRITE_CACHE_ATTR = "_wxp_scope_checks"


def _scoped(queryset):
    """True when the queryset's model takes part in staff scope."""
    return queryset is not None and hasattr(queryset, "for_user")


def form_field_for_error(form, field: str | None, aliases: dict[str, str] | None = None) -> str | None:
    """The form field a service error's ``field`` points at.

    Services name paths such as ``rules.small.bands[1].end`` or ``lat``; the form shows the first
    segment (``rules``), after ``aliases`` (e.g. ``{"lat": "position"}``). An unknown field becomes
    a form-wide error rather than being lost.
    """
    if not field:
        return None
    head = field.split(".", 1)[0].split("[", 1)[0]
    head = (aliases or {}).get(head, head)
    return head if head in form.fields else None


class ScopedChoicesMixin:
    """Foreign key and many-to-many choices limited to what the user's scope covers.

    Usable on a ModelAdmin or an inline whose own model is not scoped (e.g. staff scope on users).
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return self._scope_choices(super().formfield_for_foreignkey(db_field, request, **kwargs), request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return self._scope_choices(super().formfield_for_manytomany(db_field, request, **kwargs), request)

    @staticmethod
    def _scope_choices(formfield, request):
        queryset = getattr(formfield, "queryset", None)
        if formfield is not None and _scoped(queryset):
            formfield.queryset = queryset.for_user(request.user)
        return formfield

    def get_readonly_fields(self, request, obj=None):
        """A form never clears a value it did not show: a foreign key whose current value is not
        among the choices the user is offered is shown read-only, and kept as it is."""
        readonly = tuple(super().get_readonly_fields(request, obj))
        if isinstance(self, InlineModelAdmin):
            return readonly  # ``obj`` is the parent here
        return readonly + tuple(name for name in unoffered_values(request.user, obj) if name not in readonly)


def unoffered_values(user, obj) -> list[str]:
    """The scoped foreign keys of ``obj`` whose current value ``user`` would not be offered."""
    if obj is None or obj.pk is None or scope_of(user).city_wide:
        return []
    names = []
    for field in obj._meta.concrete_fields:
        if not field.many_to_one or getattr(obj, field.attname) is None:
            continue
        related = field.related_model._default_manager.all()
        if _scoped(related) and not related.for_user(user).filter(pk=getattr(obj, field.attname)).exists():
            names.append(field.name)
    return names


class ScopedAdminMixin(ScopedChoicesMixin):
    """A ModelAdmin (or inline) over a model with ``ScopedQuerySet`` and ``scope_paths``.

    - rows: ``get_queryset`` is ``for_user(request.user)``; a guessed id is "not found";
    - objects: view/change/delete permission on an object needs the object in scope, and
      change/delete also refuse rows seen only because they are shared city-wide (``shared``);
    - saves: after the form validates, the instance must still fall inside the user's scope
      (no moving a lot to another district), checked on the values being saved;
    - service errors: a ``DomainError`` raised in ``save_model``/``save_related`` rolls back and
      re-shows the form with the message on ``service_error_fields.get(field, field)``.
    """

    #: service error field → form field, for forms that show a model field under another name
    service_error_fields: dict[str, str] = {}
    #: message shown when the values being saved would fall outside the user's scope
    out_of_scope_message = _("只能在本人负责的区域或经营单位范围内保存")

    # -- rows ---------------------------------------------------------------------------------
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not _scoped(queryset):
            raise ImproperlyConfigured(
                f"{type(self).__name__}: {queryset.model.__name__} has no ScopedQuerySet; use ScopedChoicesMixin"
            )
        return queryset.for_user(request.user)

    def in_scope(self, request, obj) -> bool:
        """Whether ``obj`` is one of the rows the user may see (one query, cached per request)."""
        if obj is None or scope_of(request.user).city_wide:
            return True
        if obj.pk is None:
            return self.values_in_scope(request, obj)
        cache = request.__dict__.setdefault(_WRITE_CACHE_ATTR, {})
        key = (obj._meta.label, obj.pk)
        if key not in cache:
            cache[key] = self.model._default_manager.for_user(request.user).filter(pk=obj.pk).exists()
        return cache[key]

    def writable(self, request, obj) -> bool:
        """Whether the user may change ``obj``: ``apps.common.scope.may_change``, cached per request.

        Reading may be wider than writing (a city-level operator running a district's lots, a tariff
        shared city-wide): such rows open read-only."""
        if obj is None:
            return True
        if obj.pk is None:
            return self.values_in_scope(request, obj)
        cache = request.__dict__.setdefault(_WRITE_CACHE_ATTR, {})
        key = ("write", obj._meta.label, obj.pk)
        if key not in cache:
            cache[key] = may_change(request.user, obj)
        return cache[key]

    def values_in_scope(self, request, obj) -> bool:
        """Whether the values on ``obj`` (saved or not) place it inside the user's write scope.

        Walks each write path on the instance (``lot__region`` → ``obj.lot.region_id``). A path that
        needs the database on an unsaved object (many-to-many) can't be judged here; if no path can
        be judged, the service that saves the object decides.
        """
        return values_writable(scope_of(request.user), obj)

    def _own_object(self, obj):
        # On an inline, ``obj`` is the parent, which the parent's admin has already judged.
        return None if isinstance(self, InlineModelAdmin) else obj

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_scope(request, self._own_object(obj))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.writable(request, self._own_object(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.writable(request, self._own_object(obj))

    # -- saves --------------------------------------------------------------------------------
    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        def _post_clean(form):
            form_class._post_clean(form)
            model_admin.check_form(request, form)

        # A subclass per request: the form knows who is saving without a global.
        return type(form_class.__name__, (form_class,), {"_post_clean": _post_clean, "request": request})

    def check_form(self, request, form) -> None:
        """Scope of the values being saved, then the error a service raised on the first try."""
        if not form.errors and not self.values_in_scope(request, form.instance):
            form.add_error(self._scope_error_field(form), self.out_of_scope_message)
        refusal = getattr(request, _REFUSAL_ATTR, None)
        if refusal is not None:
            form.add_error(form_field_for_error(form, refusal.field, self.service_error_fields), refusal.message)

    def _scope_error_field(self, form) -> str | None:
        paths = self.model.scope_paths.write_paths
        for lookup in (*as_tuple(paths.region), *as_tuple(paths.operator)):
            head = lookup.split("__", 1)[0]
            if head in form.fields:
                return head
        return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as refusal:
            # The admin's transaction has rolled back. Show the same POST again with the service's
            # message on the form; a second refusal would be a bug, so let it raise.
            if request.method != "POST" or getattr(request, _REFUSAL_ATTR, None) is not None:
                raise
            setattr(request, _REFUSAL_ATTR, refusal)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as refusal:
            return self._refused(request, refusal)

    def changelist_view(self, request, extra_context=None):
        # Actions run in here: a service refusing one is a message, not a server error.
        try:
            return super().changelist_view(request, extra_context)
        except DomainError as refusal:
            if request.method != "POST":
                raise  # only an action can be refused here; redirecting a GET to itself would loop
            return self._refused(request, refusal)

    def _refused(self, request, refusal: DomainError):
        """A service refused what the page asked: say so on the list, log one line."""
        logger.warning("refused %s %s for %s: %s %s", request.method, request.path, request.user, refusal.code,
                       refusal.message)
        message_domain_error(self, request, refusal)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                                            current_app=self.admin_site.name))

    # -- actions ------------------------------------------------------------------------------
    def scoped_objects(self, request, queryset):
        """The action's rows intersected with the scope again (an action may be called directly)."""
        return queryset.filter(pk__in=self.get_queryset(request).values("pk"))


class ReadOnlyAdminMixin:
    """Rows that only the system writes (outages, records): staff look, nobody edits in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


HISTORY_TYPES = {"+": _("新增"), "~": _("修改"), "-": _("删除")}


class ReadableHistory(HistoricalRecordContextHelper):
    """A version's changes as staff read them: field names and values in Chinese, related rows
    named only within the reader's scope."""

    def __init__(self, model, historical_record, *, user):
        super().__init__(model, historical_record)
        self.user = user

    def format_delta_change(self, change):
        return dataclasses.replace(
            change,
            field=field_label(self.model, change.field),
            old=conditional_escape(value_label(self.model, change.field, change.old, self.user)),
            new=conditional_escape(value_label(self.model, change.field, change.new, self.user)),
        )


class ScopedHistoryAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Scoped admin with the audit trail (who changed what and when).

    Reverting from the history page is off: it would save a past version without the service's
    checks, and auditors need the trail to be read-only. The history of an object outside the
    user's scope is refused even if the object has since been deleted.
    """

    object_history_list_template = "admin/history_list.html"

    def revert_disabled(self, request, obj=None):
        return True

    def get_historical_record_context_helper(self, request, historical_record):
        return ReadableHistory(self.model, historical_record, user=request.user)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=False):
        # Ids, not objects: the names are looked up within the reader's scope (apps.common.display).
        for record in historical_records:
            record.readable_type = HISTORY_TYPES.get(record.history_type, record.history_type)
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs=False)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        if not scope_of(request.user).city_wide:
            try:
                pk = self.model._meta.pk.to_python(object_id)
            except ValidationError:
                raise PermissionDenied from None
            if not self.get_queryset(request).filter(pk=pk).exists():
                raise PermissionDenied
        return super().history_view(request, object_id, extra_context)


_FORMULA_START = frozenset("=+-@\t\r")


def _export_value(obj, name: str):
    value = obj
    for part in name.split("__"):
        if value is None:
            break
        display = getattr(value, f"get_{part}_display", None)
        value = display() if callable(display) else getattr(value, part)
    if isinstance(value, models.Model):
        value = str(value)
    elif isinstance(value, datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).isoformat()
    elif hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in _FORMULA_START:
        # A name typed as "=HYPERLINK(...)" must stay text when a colleague opens the file in Excel.
        return "'" + value
    return "" if value is None else value


def _joins(model, fields: Sequence[str]) -> list[str]:
    """The forward foreign-key paths ``fields`` read, so an export is one query, not one a row."""
    joins = []
    for name in fields:
        current, path = model, []
        for part in name.split("__")[:-1]:
            field = current._meta.get_field(part)
            if not (field.many_to_one or field.one_to_one) or not field.concrete:
                break
            path.append(part)
            current = field.related_model
        if path:
            joins.append("__".join(path))
    return joins


def _export_header(model, name: str) -> str:
    current = model
    parts = name.split("__")
    for part in parts[:-1]:
        current = current._meta.get_field(part).related_model
    try:
        return str(current._meta.get_field(parts[-1]).verbose_name)
    except FieldDoesNotExist:
        return parts[-1]


def export_csv(fields: Sequence[str], *, filename: str | None = None, description=None):
    """An admin action writing the selected rows (already scoped by the changelist) as CSV.

    ``fields`` are attribute paths (``region__name``); choice fields export their label. The file
    is UTF-8 with a BOM so that Excel on Chinese Windows opens it correctly.
    """

    def action(modeladmin, request, queryset):
        rows = modeladmin.scoped_objects(request, queryset) if hasattr(modeladmin, "scoped_objects") else queryset
        rows = rows.select_related(*_joins(modeladmin.model, fields))
        name = filename or modeladmin.model._meta.model_name
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
        response.write("\ufeff")
        writer = csv.writer(response)
        writer.writerow([_export_header(modeladmin.model, f) for f in fields])
        for obj in rows.iterator(chunk_size=2000):
            writer.writerow([_export_value(obj, f) for f in fields])
        return response

    action.__name__ = "export_csv"
    action.short_description = description or _("导出所选为 CSV")
    action.allowed_permissions = ("view",)
    return action


def message_domain_error(modeladmin, request, exc: DomainError, obj=None) -> None:
    """Tell the user why a service refused an action on ``obj``."""
    prefix = f"{obj}：" if obj is not None else ""
    modeladmin.message_user(request, prefix + exc.message, level="error")



def null_filter(field: str, title, *, parameter: str, null: tuple[str, str], not_null: tuple[str, str]):
    """A list filter on whether ``field`` is empty, the question staff ask most ("offline?", "unpaid?").

    ``null`` and ``not_null`` are (URL value, label) pairs, e.g.::

        null_filter("paid_at", _("缴清情况"), parameter="unpaid",
                    null=("yes", _("未缴清")), not_null=("no", _("已缴清")))
    """

    def lookups(self, request, model_admin):
        return (null, not_null)

    def queryset(self, request, queryset):
        if self.value() in (null[0], not_null[0]):
            return queryset.filter(**{f"{field}__isnull": self.value() == null[0]})
        return queryset

    return type(f"{parameter.title().replace('_', '')}Filter", (admin.SimpleListFilter,), {
        "title": title, "parameter_name": parameter, "lookups": lookups, "queryset": queryset,
    })
