"""Berths in the staff admin, scoped through their lot; saves and deletes go through the services."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.common.actor import Actor
from apps.common.admin import ScopedAdminMixin, export_csv

from .models import Berth
from .services import berth_delete, berth_save


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

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        # A berth belongs to its lot: moving it would leave both lots' counts wrong.
        return (*readonly, "lot") if obj is not None and "lot" not in readonly else readonly

    def save_model(self, request, obj, form, change):
        berth_save(berth=obj, actor=Actor.from_request(request))

    def delete_model(self, request, obj):
        berth_delete(berth=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request, queryset):
        actor = Actor.from_request(request)
        for berth in self.scoped_objects(request, queryset).select_related("lot"):
            berth_delete(berth=berth, actor=actor)
