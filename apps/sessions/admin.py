"""Sessions, arrears and the ingest log in the staff admin: scoped to the staff member's region or
operator through the lot, and read-only (the ingest and payment services are what write them)."""

from __future__ import annotations

import contextlib
import json

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.common import plates
from apps.common.admin import ReadOnlyAdminMixin, ScopedAdminMixin, export_csv

from . import retention
from .models import Arrears, IngestEvent, ParkingSession, SessionMoneyEntry


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:.2f}"


class LotColumnsMixin:
    @admin.display(description=_("区域"), ordering="lot__region")
    def lot_region(self, obj):
        return obj.lot.region.name


class PlateSearchMixin:
    """Staff type plates the way they read them (苏b·12345): a term that is a plate is searched in
    its stored form; anything else (a lot name) as typed. A plate past its retention period is
    stored as its salted hash (``apps.sessions.retention``): the term's hash finds those rows too."""

    def get_search_results(self, request, queryset, search_term):
        plate = None
        with contextlib.suppress(plates.PlateError):
            plate = search_term = plates.validate(search_term.strip())
        results, duplicates = super().get_search_results(request, queryset, search_term)
        if plate is not None and "=plate" in self.get_search_fields(request):
            results = results | queryset.filter(plate=retention.plate_hash(plate))
        return results, duplicates


class MoneyEntryInline(admin.TabularInline):
    """The ledger that explains the session's paid and waived amounts and its arrears."""

    model = SessionMoneyEntry
    fk_name = "session"
    fields = ("created_at", "kind", "amount_fen", "reason", "reference", "arrears")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ParkingSession)
class ParkingSessionAdmin(LotColumnsMixin, PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate_or_ticket", "lot", "lot_region", "entry_at", "exit_at", "state", "release_reason",
                    "amount", "paid", "due")
    list_filter = ("state", "release_reason", ("lot__region", admin.RelatedOnlyFieldListFilter), "new_energy",
                   "vehicle_class", "entry_at")
    search_fields = ("=plate", "=ticket_id", "lot__code", "lot__name")
    list_select_related = ("lot__region",)
    date_hierarchy = "entry_at"
    readonly_fields = ("amount_fen", "paid_fen", "waived_fen", "due_fen", "tariff", "tariff_version_used",
                       "tariff_rules_used")
    fieldsets = (
        (None, {"fields": ("lot", "berth", "plate", "ticket_id", "plate_color", "vehicle_class", "new_energy")}),
        (_("时间"), {"fields": ("entry_at", "exit_at", "closed_at", "entry_event_id", "exit_event_id")}),
        (_("费用（分）"), {"fields": ("amount_fen", "paid_fen", "waived_fen", "due_fen")}),
        # Which rules charged this stay: a dispute reproduces the fee from them with the fee engine.
        (_("计费依据"), {"fields": ("tariff", "tariff_version_used", "tariff_rules_used")}),
        (_("状态"), {"fields": ("state", "release_reason", "created_at", "updated_at")}),
    )
    inlines = (MoneyEntryInline,)
    actions = [export_csv(("lot__code", "lot__name", "plate", "ticket_id", "vehicle_class", "new_energy", "entry_at",
                           "exit_at", "state", "release_reason", "amount_fen", "paid_fen", "due_fen"),
                          filename="sessions")]

    @admin.display(description=_("车牌/票号"), ordering="plate")
    def plate_or_ticket(self, obj):
        return obj.plate or f"🎫 {obj.ticket_id}"

    @admin.display(description=_("计费标准版本"))
    def tariff_version_used(self, obj):
        version = obj.tariff_version
        if version is None:
            return "—"
        return format_html(gettext("第 {} 版，{} 起生效，规则摘要 SHA-256 {}"), version.number,
                           f"{timezone.localtime(version.created_at):%Y-%m-%d %H:%M}", version.digest)

    @admin.display(description=_("计费规则（计费时）"))
    def tariff_rules_used(self, obj):
        if obj.tariff_version is None:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.tariff_version.rules, ensure_ascii=False, indent=2))

    @admin.display(description=_("应收"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)

    @admin.display(description=_("已付"), ordering="paid_fen")
    def paid(self, obj):
        return _yuan(obj.paid_fen)

    @admin.display(description=_("待付"), ordering="due_fen")
    def due(self, obj):
        return _yuan(obj.due_fen)


class UnpaidFilter(admin.SimpleListFilter):
    title = _("缴清情况")
    parameter_name = "unpaid"

    def lookups(self, request, model_admin):
        return (("yes", _("未缴清")), ("no", _("已缴清")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paid_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(paid_at__isnull=False)
        return queryset


@admin.register(Arrears)
class ArrearsAdmin(LotColumnsMixin, PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate", "lot", "lot_region", "amount", "created_at", "paid_at")
    list_filter = (UnpaidFilter, ("lot__region", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("=plate", "lot__code", "lot__name")
    list_select_related = ("lot__region",)
    date_hierarchy = "created_at"
    actions = [export_csv(("plate", "lot__code", "lot__name", "amount_fen", "created_at", "paid_at", "session_id"),
                          filename="arrears")]

    @admin.display(description=_("金额"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)


@admin.register(IngestEvent)
class IngestEventAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "type", "lot", "plate", "occurred_at", "received_at", "device")
    list_filter = ("type", ("lot__region", admin.RelatedOnlyFieldListFilter), "received_at")
    search_fields = ("=event_id", "=plate", "lot__code")
    list_select_related = ("lot", "device")
    readonly_fields = ("payload",)
    show_full_result_count = False  # the log is large; counting it on every page costs a full scan
