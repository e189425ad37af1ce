"""The dashboards in the staff admin: ``/admin/analytics/dashboard/`` (one page; what it holds is the
viewer's scope: the city, a district, an operator), each panel's export at
``/admin/analytics/dashboard/export/<panel>.<csv|xlsx>`` with the page's query, and the targets."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from apps.common.actor import Actor
from apps.common.admin import ReadOnlyAdminMixin, ScopedAdminMixin
from apps.realtime.views import tile_layers

from ..models import Dashboard, Target
from . import exports, panels, services

DASHBOARD_TEMPLATE = "admin/analytics/dashboard.html"


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Read-only: the page replaces the changelist; nothing is added, changed or deleted here."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.dashboard_view), name="analytics_dashboard_changelist"),
            path("export/<slug:key>.<str:fmt>", view(self.export_view), name="analytics_dashboard_export"),
        ]

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        q = panels.Query.from_request(request)
        params = q.params()
        sections = [(title, [_panel(table, params) for table in tables]) for title, tables in panels.sections(q)]
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": panels.role_title(request.user),
            "sections": sections, "query": q, "periods": panels.PERIODS,
            "areas": panels.area_choices(request.user).items(),
            "years": sorted(set(Target.objects.values_list("year", flat=True))),
            "dashboard_config": {
                "charts": [{"id": t["table"].key, **t["table"].chart} for _s, ts in sections for t in ts
                           if t["table"].chart],
                "tiles": tile_layers(), "center": list(settings.LEAFLET_CONFIG["DEFAULT_CENTER"]),
                "text": {"noData": _("暂无数据"), "tilesFailed": _("底图无法加载，热力点仍按坐标显示")},
            },
        }
        return TemplateResponse(request, DASHBOARD_TEMPLATE, context)

    def export_view(self, request, key: str, fmt: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        build = panels.PANELS.get(key)
        if build is None or fmt not in ("csv", "xlsx"):
            raise Http404("no such panel")
        table = build(panels.Query.from_request(request))
        return exports.csv_response(table) if fmt == "csv" else exports.xlsx_response(table)


def _panel(table, params: dict) -> dict:
    query = urlencode(params)
    return {"table": table, "cells": table.cells(),
            "csv": f"export/{table.key}.csv?{query}", "xlsx": f"export/{table.key}.xlsx?{query}"}


@admin.register(Target)
class TargetAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ("year", "metric", "region_label", "percent", "provisional", "basis", "updated_at")
    list_filter = ("year", "metric", "provisional")
    list_select_related = ("region",)
    fields = ("metric", "year", "region", "percent", "basis", "provisional")

    @admin.display(description=_("区域"), ordering="region__code")
    def region_label(self, obj):
        return obj.region.name if obj.region_id else _("全市（各区统一）")

    def save_model(self, request, obj, form, change):
        services.target_save(target=obj, actor=Actor.from_request(request))

