"""The lot admin's inventory import (导入底册): upload, preview, confirm.

An upload is read and checked, and nothing is written: staff see which lots would be created,
which updated (each field before → after) and which are already as the file says. The parsed rows
wait in the staff member's own session under a one-time token, beside the preview's digest; the
confirming POST names both, so what is written is the file that was previewed and nothing else,
and ``services.lots_import`` refuses it when the lots changed since (then the page previews again).
"""

from __future__ import annotations

import hashlib
import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.common.errors import DomainError

from . import inventory
from .choices import import_regions
from .errors import ImportStale
from .services import lots_import

#: where the previewed, not yet confirmed import waits (one per staff member's session)
PENDING_KEY = "lots_import_pending"


class ImportForm(forms.Form):
    region = forms.ModelChoiceField(label=_("导入到区域"), queryset=None)
    file = forms.FileField(label=_("底册文件"), help_text=_("CSV（UTF-8 或 GBK）或 XLSX，第一行为列名"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        regions = import_regions(user)  # the lot form's regions that this member of staff may write to
        self.fields["region"].queryset = regions
        if regions.count() == 1:
            self.fields["region"].initial = regions.first()


class InventoryImportMixin:
    """For ``ParkingLotAdmin``: the import pages and the template downloads."""

    import_template = "admin/lots/parkinglot/import.html"
    import_preview_template = "admin/lots/parkinglot/import_preview.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="lots_parkinglot_import"),
            path("import/template.<str:fmt>", view(self.import_template_view), name="lots_parkinglot_import_template"),
            *super().get_urls(),
        ]

    def has_import_permission(self, request) -> bool:
        return (self.has_add_permission(request) and self.has_change_permission(request)
                and import_regions(request.user).exists())

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_import_permission": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_template_view(self, request, fmt: str):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if fmt == "xlsx":
            response = HttpResponse(inventory.template_xlsx(), content_type=(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        elif fmt == "csv":
            response = HttpResponse(inventory.template_csv(), content_type="text/csv; charset=utf-8")
        else:
            raise PermissionDenied
        response["Content-Disposition"] = f'attachment; filename="lot-inventory-template.{fmt}"'
        return response

    # -- the pages ------------------------------------------------------------------------------
    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._import_confirm(request)
        errors: list[inventory.RowError] = []
        form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            upload, region = form.cleaned_data["file"], form.cleaned_data["region"]
            try:
                if upload.size > inventory.MAX_BYTES:
                    raise inventory.InventoryFileError(
                        [inventory.RowError(0, "", gettext("文件超过 5 MB，请分批导入"))])
                data = upload.read()
                rows = inventory.read_inventory(data, upload.name)
            except inventory.InventoryFileError as exc:
                errors = exc.errors
            else:
                plan = inventory.plan_import(rows, region=region, actor=request.user)
                if plan.ok:
                    pending = self._keep_pending(request, plan, filename=upload.name,
                                                 sha256=hashlib.sha256(data).hexdigest())
                    return self._preview_page(request, plan, pending)
                errors = plan.errors
        return self._form_page(request, form, errors)

    def _import_confirm(self, request):
        pending = request.session.get(PENDING_KEY)
        given = (request.POST.get("token", ""), request.POST.get("digest", ""))
        if not pending or not all(given) or given != (pending["token"], pending["digest"]):
            # Another upload replaced this preview (another tab), or it was confirmed or cancelled.
            self.message_user(request, gettext("该预览已失效，请重新上传文件"), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:lots_parkinglot_import"))
        if "cancel" in request.POST:
            request.session.pop(PENDING_KEY, None)
            self.message_user(request, gettext("已取消导入，未保存任何数据"), messages.INFO)
            return HttpResponseRedirect(reverse("admin:lots_parkinglot_import"))
        region = import_regions(request.user).filter(pk=pending["region"]).first()
        rows = [inventory.InventoryRow(number, values) for number, values in pending["rows"]]
        form = ImportForm(user=request.user, initial={"region": region})
        if region is None:
            request.session.pop(PENDING_KEY, None)
            raise PermissionDenied
        try:
            report = lots_import(actor=request.user, region=region, rows=rows, digest=pending["digest"],
                                 source=pending["filename"])
        except ImportStale as exc:
            plan = inventory.plan_import(rows, region=region, actor=request.user)
            if not plan.ok:
                request.session.pop(PENDING_KEY, None)
                return self._form_page(request, form, plan.errors)
            pending = self._keep_pending(request, plan, filename=pending["filename"], sha256=pending["sha256"])
            return self._preview_page(request, plan, pending, stale=exc.message)
        except DomainError as exc:
            request.session.pop(PENDING_KEY, None)
            return self._form_page(request, form, [inventory.RowError(0, "", exc.message)])
        request.session.pop(PENDING_KEY, None)
        if not report.ok:
            return self._form_page(request, form, report.errors)
        self.message_user(request, gettext("导入完成：新增 %(created)d 个，更新 %(updated)d 个停车场，"
                                           "%(unchanged)d 个未变化")
                          % {"created": report.created, "updated": report.updated, "unchanged": report.unchanged},
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:lots_parkinglot_changelist"))

    @staticmethod
    def _keep_pending(request, plan: inventory.ImportPlan, *, filename: str, sha256: str) -> dict:
        pending = {
            "token": secrets.token_urlsafe(16), "digest": plan.digest, "region": plan.region.pk,
            "filename": filename, "sha256": sha256, "rows": [[r.number, r.values] for r in plan.rows],
        }
        request.session[PENDING_KEY] = pending  # a newer preview replaces an older one
        return pending

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta,
                "columns": inventory.INVENTORY_COLUMNS, **extra}

    def _form_page(self, request, form, errors):
        context = self._context(request, title=gettext("导入停车场底册"), form=form, errors=errors)
        return TemplateResponse(request, self.import_template, context)

    def _preview_page(self, request, plan: inventory.ImportPlan, pending: dict, stale: str = ""):
        context = self._context(
            request, title=gettext("核对导入内容"), plan=plan, pending=pending, stale=stale,
            creates=plan.of("create"), updates=plan.of("update"), unchanged=plan.of("unchanged"),
        )
        return TemplateResponse(request, self.import_preview_template, context)
