"""Booking and sharing in the staff admin: scoped through the lot (a site's or lot's region staff
and the lot's operator), saves and actions through the services, each audited."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.common.actor import Actor
from apps.common.admin import ReadOnlyAdminMixin, ScopedAdminMixin, export_csv

from . import selectors, services
from .models import BookingSite, Reservation, SharingApplication, SharingContract, SharingOffer, Slot, Suspension

STATS_TEMPLATE = "admin/reservations/stats.html"


class StatsPageMixin:
    """A statistics page beside the changelist (``…/stats/``), scoped as the list is."""

    stats_title = ""

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_stats"
        return [path("stats/", self.admin_site.admin_view(self.stats_view), name=name), *super().get_urls()]

    def stats_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": self.stats_title,
                   **self.stats_context(request)}
        return TemplateResponse(request, STATS_TEMPLATE, context)


class SlotInline(ScopedAdminMixin, admin.TabularInline):
    model = Slot
    extra = 0
    fields = ("berth_kind", "starts_at", "ends_at", "quota", "booked")
    readonly_fields = ("booked",)
    ordering = ("-starts_at",)
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).filter(starts_at__gte=timezone.now() - timedelta(days=1))


@admin.register(BookingSite)
class BookingSiteAdmin(StatsPageMixin, ScopedAdminMixin, admin.ModelAdmin):
    stats_title = _("预约统计（前后 7 天）")
    list_display = ("name", "kind", "lot", "active", "booking_window_days", "booking_cutoff_minutes",
                    "waives_fee", "no_show_limit")
    list_filter = ("kind", "active", "waives_fee", ("lot__region", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "lot__code", "lot__name")
    list_select_related = ("lot",)
    autocomplete_fields = ("lot",)
    inlines = [SlotInline]
    fieldsets = (
        (None, {"fields": ("name", "kind", "lot", "active")}),
        (_("预约规则"), {"fields": ("booking_window_days", "booking_cutoff_minutes", "cancel_cutoff_minutes",
                                 "arrive_before_minutes", "arrive_after_minutes", "default_stay_minutes")}),
        (_("收费"), {"fields": ("waives_fee", "ev_free_minutes")}),
        (_("爽约规则"), {"fields": ("no_show_limit", "no_show_period_days", "suspension_days")}),
    )

    def stats_context(self, request) -> dict:
        today = timezone.localdate()
        tz = timezone.get_current_timezone()
        start = datetime.combine(today - timedelta(days=7), time(0), tzinfo=tz)
        end = datetime.combine(today + timedelta(days=8), time(0), tzinfo=tz)
        return {"sites": True, "rows": selectors.hospital_daily_stats(user=request.user, start=start, end=end)}

    def save_model(self, request, obj, form, change):
        services.hospital_save(hospital=obj, actor=Actor.from_request(request))

    def save_formset(self, request, form, formset, change):
        actor = Actor.from_request(request)
        for slot in formset.save(commit=False):
            services.slot_save(slot=slot, actor=actor)
        for slot in formset.deleted_objects:
            services.slot_delete(slot=slot, actor=actor)


@admin.register(Slot)
class SlotAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("hospital", "berth_kind", "starts_at", "ends_at", "quota", "booked", "remaining")
    list_filter = ("berth_kind", ("hospital", admin.RelatedOnlyFieldListFilter))
    date_hierarchy = "starts_at"
    search_fields = ("hospital__name",)
    list_select_related = ("hospital",)
    autocomplete_fields = ("hospital",)
    readonly_fields = ("booked",)

    @admin.display(description=_("剩余"))
    def remaining(self, obj):
        return obj.remaining

    def save_model(self, request, obj, form, change):
        services.slot_save(slot=obj, actor=Actor.from_request(request))

    def delete_model(self, request, obj):
        services.slot_delete(slot=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request, queryset):
        actor = Actor.from_request(request)
        for slot in self.scoped_objects(request, queryset):
            services.slot_delete(slot=slot, actor=actor)


@admin.register(Reservation)
class ReservationAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "hospital", "plate", "state", "slot_start", "arrive_from", "arrive_until", "arrived_at")
    list_filter = ("state", ("hospital", admin.RelatedOnlyFieldListFilter), "day")
    search_fields = ("code", "plate")
    list_select_related = ("hospital", "slot")
    date_hierarchy = "day"
    actions = [export_csv(("code", "hospital__name", "day", "plate", "state", "arrive_from", "arrive_until",
                           "arrived_at", "closed_at"), filename="reservations")]

    @admin.display(description=_("时段"), ordering="slot__starts_at")
    def slot_start(self, obj):
        return timezone.localtime(obj.slot.starts_at).strftime("%Y-%m-%d %H:%M")


@admin.register(Suspension)
class SuspensionAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "hospital", "starts_at", "until", "no_shows", "lifted_at", "lifted_by")
    list_filter = (("hospital", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("user__username",)
    list_select_related = ("user", "hospital", "lifted_by")
    actions = ["lift"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("reservations.change_suspension"):
            actions.pop("lift", None)
        return actions

    @admin.action(description=_("解除所选的预约暂停"))
    def lift(self, request, queryset):
        actor = Actor.from_request(request)
        done = 0
        for suspension in self.scoped_objects(request, queryset).filter(lifted_at__isnull=True):
            services.suspension_lift(suspension_id=suspension.pk, actor=actor)
            done += 1
        self.message_user(request, ngettext("已解除 %d 条暂停", "已解除 %d 条暂停", done) % done, messages.SUCCESS)


@admin.register(SharingOffer)
class SharingOfferAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("title", "lot", "berths", "taken", "weekday_start", "weekday_end", "weekend_start",
                    "weekend_end", "monthly_price_fen", "active")
    list_filter = ("active", ("lot__region", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "lot__code", "lot__name")
    list_select_related = ("lot",)
    autocomplete_fields = ("lot",)
    readonly_fields = ("taken",)

    def save_model(self, request, obj, form, change):
        services.offer_save(offer=obj, actor=Actor.from_request(request))


@admin.register(SharingApplication)
class SharingApplicationAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("offer", "plate", "address", "user", "state", "created_at", "decided_at", "decided_by")
    list_filter = ("state", ("offer__lot", admin.RelatedOnlyFieldListFilter))
    search_fields = ("plate", "address", "user__username")
    list_select_related = ("offer", "user", "decided_by")
    actions = ["approve", "reject"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("reservations.change_sharingapplication"):
            actions.pop("approve", None)
            actions.pop("reject", None)
        return actions

    def _decide(self, request, queryset, decide, message):
        actor = Actor.from_request(request)
        done = 0
        for application in self.scoped_objects(request, queryset).filter(state=SharingApplication.State.PENDING):
            decide(application_id=application.pk, actor=actor)
            done += 1
        self.message_user(request, message(done) % done, messages.SUCCESS)

    @admin.action(description=_("批准所选的申请（签约）"))
    def approve(self, request, queryset):
        self._decide(request, queryset, services.sharing_application_approve,
                     lambda n: ngettext("已批准 %d 份申请", "已批准 %d 份申请", n))

    @admin.action(description=_("驳回所选的申请"))
    def reject(self, request, queryset):
        self._decide(request, queryset, services.sharing_application_reject,
                     lambda n: ngettext("已驳回 %d 份申请", "已驳回 %d 份申请", n))


@admin.register(SharingContract)
class SharingContractAdmin(StatsPageMixin, ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    stats_title = _("错时共享统计（按停车场）")

    def stats_context(self, request) -> dict:
        rows = selectors.sharing_lot_stats(user=request.user, now=timezone.now())
        for row in rows:
            row["revenue_yuan"] = f"{row['revenue_fen'] / 100:.2f}"
            row["billed_yuan"] = f"{row['billed_fen'] / 100:.2f}"
        return {"sites": False, "rows": rows}

    list_display = ("number", "lot", "plate", "state", "starts_at", "ends_at", "monthly_price_fen", "months",
                    "ended_by")
    list_filter = ("state", ("lot", admin.RelatedOnlyFieldListFilter))
    search_fields = ("number", "plate")
    list_select_related = ("lot",)
    actions = ["end", "renew", export_csv(("number", "lot__code", "plate", "state", "starts_at", "ends_at",
                                          "monthly_price_fen", "months", "ended_at", "ended_by"),
                                         filename="sharing-contracts")]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("reservations.change_sharingcontract"):
            actions.pop("end", None)
            actions.pop("renew", None)
        return actions

    @admin.action(description=_("终止所选的合同"))
    def end(self, request, queryset):
        actor = Actor.from_request(request)
        rows = self.scoped_objects(request, queryset).filter(state=SharingContract.State.ACTIVE)
        for contract in rows:
            services.sharing_contract_end(contract_id=contract.pk, actor=actor)
        self.message_user(request, _("已终止所选合同"), messages.SUCCESS)

    @admin.action(description=_("续约所选的合同"))
    def renew(self, request, queryset):
        actor = Actor.from_request(request)
        for contract in self.scoped_objects(request, queryset).filter(state=SharingContract.State.ACTIVE):
            services.sharing_contract_renew(contract_id=contract.pk, actor=actor)
        self.message_user(request, _("已续约所选合同"), messages.SUCCESS)
