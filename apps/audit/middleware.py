"""Staff views of full plates are logged (PIPL, docs/privacy.md): one ``PlateView`` a page.

Every admin page of a model that shows plates — its list, an object's page, a CSV export from its
list — is recorded when it answers 200: who, when, from where, which objects. Which pages those
are is decided from the admin itself (``shows_plates``), not from a list kept here, so a new admin
of a plated model is covered the day it is registered. The ids come from what the page already
built (the change list's page of results, the object id in the URL, the rows chosen for export):
no query beyond the one insert.

A failure to record is logged and the page still answers: the log must never take the admin down.
"""

from __future__ import annotations

import logging

from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.contenttypes.models import ContentType

from .models import PlateView

logger = logging.getLogger(__name__)

PLATE = "plate"
MAX_IDS = 1000  # a list page shows at most list_max_show_all rows; an export's ids are capped here


def _names(entries) -> list[str]:
    names = []
    for entry in entries or ():
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, list | tuple):  # fieldsets' rows
            names.extend(_names(entry))
        elif callable(entry):
            names.append(getattr(entry, "__name__", ""))
    return names


def _model_has_plate(model) -> bool:
    return any(field.name == PLATE for field in model._meta.get_fields() if getattr(field, "concrete", False))


def shows_plates(model_admin) -> bool:
    """Whether the admin's pages show a full plate: its model has one, a column or field names one
    (``order__plate``, ``plate_or_ticket``), or an inline's model has one."""
    if getattr(model_admin, "shows_plates", None) is not None:
        return bool(model_admin.shows_plates)
    if _model_has_plate(model_admin.model):
        return True
    declared = [*_names(model_admin.list_display), *_names(getattr(model_admin, "fields", None)),
                *_names(getattr(model_admin, "readonly_fields", None))]
    if any(PLATE in name for name in declared):
        return True
    return any(_model_has_plate(inline.model) for inline in getattr(model_admin, "inlines", ()))


def _kind_and_ids(request, response, url_name: str, kwargs) -> tuple[str, list, int] | None:
    if url_name.endswith("_changelist"):
        if response.get("Content-Type", "").startswith("text/csv"):
            if request.POST.get("select_across") == "1":
                return PlateView.Kind.EXPORT, [], 0
            ids = request.POST.getlist("_selected_action")
            return PlateView.Kind.EXPORT, ids[:MAX_IDS], len(ids)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is None or request.GET.get(IS_POPUP_VAR):
            return None
        ids = [obj.pk for obj in changelist.result_list]
        return (PlateView.Kind.LIST, ids, len(ids)) if ids else None
    if url_name.endswith("_change") and request.method == "GET":
        return PlateView.Kind.CHANGE, [kwargs.get("object_id")], 1
    return None


def record_plate_view(request, response) -> PlateView | None:
    match = getattr(request, "resolver_match", None)
    model_admin = getattr(getattr(match, "func", None), "model_admin", None)
    user = getattr(request, "user", None)
    if (model_admin is None or response.status_code != 200 or not getattr(user, "is_authenticated", False)
            or not user.is_staff or not shows_plates(model_admin)):
        return None
    found = _kind_and_ids(request, response, match.url_name or "", match.kwargs)
    if found is None:
        return None
    kind, ids, count = found
    return PlateView.objects.create(
        viewer=user, viewer_name=user.get_username(), kind=kind,
        content_type=ContentType.objects.get_for_model(model_admin.model),
        object_ids=[str(pk) for pk in ids], count=count, path=request.get_full_path()[:500],
        ip=request.META.get("REMOTE_ADDR") or None)


class PlateViewMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(getattr(request, "resolver_match", None), "namespace", "") == "admin":
            try:
                record_plate_view(request, response)
            except Exception:  # the page answers even if its record cannot be written
                logger.exception("audit: could not record a staff view of plates at %s", request.path)
        return response
