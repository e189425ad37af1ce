"""The audit log in the admin: read-only, scoped (a region's staff see entries about their objects,
city-wide staff see all)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.common.admin import ReadOnlyAdminMixin
from apps.common.display import field_label, value_label

from .models import AuditEntry, PlateView

#: action code → what staff read; an unknown code is shown as it is
ACTION_LABELS = {
    "lot.created": _("登记停车场"),
    "lot.changed": _("修改停车场"),
    "lot.opened": _("开放停车场"),
    "lot.closed": _("关闭停车场"),
    "tariff.created": _("新建收费标准"),
    "tariff.changed": _("修改收费标准"),
    "device.issued": _("签发设备密钥"),
    "device.changed": _("修改设备"),
    "device.key_rotated": _("重新签发设备密钥"),
    "device.revoked": _("吊销设备密钥"),
    "operator.created": _("登记经营单位"),
    "operator.changed": _("修改经营单位"),
    "berth.created": _("新增泊位"),
    "berth.changed": _("修改泊位"),
    "berth.deleted": _("删除泊位"),
    "free_window.created": _("新建免费时段"),
    "free_window.changed": _("修改免费时段"),
    "free_window.deleted": _("删除免费时段"),
}


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "action_display", "actor_name", "object_repr", "ip")
    list_filter = ("action", "at")
    search_fields = ("object_repr", "actor_name", "action", "ip")
    date_hierarchy = "at"
    fields = ("at", "action_display", "actor_name", "content_type", "object_id", "object_repr", "changes_display",
              "ip", "user_agent")
    readonly_fields = fields
    list_select_related = ("content_type",)

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)

    @admin.display(description=_("操作"), ordering="action")
    def action_display(self, obj):
        return ACTION_LABELS.get(obj.action, obj.action)

    @admin.display(description=_("变更内容"))
    def changes_display(self, obj):
        model = obj.content_type.model_class() if obj.content_type_id else None
        if not obj.changes:
            return "—"
        reader = getattr(obj, "_reader", None)
        rows = []
        for name, pair in obj.changes.items():
            old, new = ([*pair, None, None])[:2] if isinstance(pair, list) else (None, pair)
            if model is None:
                rows.append((name, old, new))
            else:
                rows.append((field_label(model, name), value_label(model, name, old, reader),
                             value_label(model, name, new, reader)))
        return format_html("<ul>{}</ul>", format_html_join("", "<li><strong>{}</strong>：{} → {}</li>", rows))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._reader = request.user  # related rows are named only within the reader's scope
        return obj


@admin.register(PlateView)
class PlateViewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who saw which full plates (PIPL): read-only; city-wide staff see all, others their own."""

    list_display = ("at", "viewer_name", "kind", "content_type", "count", "path", "ip")
    list_filter = ("kind", "content_type", "at")
    search_fields = ("viewer_name", "path", "ip")
    date_hierarchy = "at"
    fields = ("at", "viewer_name", "kind", "content_type", "object_ids", "count", "path", "ip")
    readonly_fields = fields
    list_select_related = ("content_type",)
    shows_plates = False  # its search paths may hold a plate, but reading the log is not logged again

    def get_queryset(self, request):
        return super().get_queryset(request).for_user(request.user)
