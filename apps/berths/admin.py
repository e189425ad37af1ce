"""Berths in the staff admin, scoped through their lot."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.common.admin import ScopedAdminMixin, export_csv

from .models import Berth


@admin.register(Berth)
class BerthAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "lot", "lot_region", "kind", "floor", "sensor_id", "state", "state_changed_at")
    list_filter = (("lot__region", admin.RelatedOnlyFieldListFilter), "lot__kind", "state", "kind")
    search_fields = ("code", "sensor_id", "lot__code", "lot__name")
    list_select_related = ("lot__region",)
    autocomplete_fields = ("lot",)
    readonly_fields = ("state_changed_at",)
    actions = [export_csv(("lot__code", "code", "kind", "floor", "sensor_id", "state", "state_changed_at"),
                          filename="berths")]

    @admin.display(description=_("区域"), ordering="lot__region")
    def lot_region(self, obj):
        return obj.lot.region.name
