"""Money in the staff admin: orders, payments, payment exceptions, refunds and payment agreements,
scoped by the one mechanism (through the lots of an order's debts), searchable by plate and order
number, read-only where money must not be edited by hand; and the printable sheet of a lot's
payment codes."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from apps.common.actor import Actor
from apps.common.admin import ReadOnlyAdminMixin, ScopedAdminMixin, export_csv
from apps.sessions.admin import PlateSearchMixin

from . import paycode, services
from .models import Order, OrderItem, PayCodeLot, Payment, PaymentAgreement, PaymentException, Refund


def _yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:.2f}"


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = ("kind", "session", "arrears", "lot", "amount_fen", "open")
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("channel", "transaction_id", "amount_fen", "paid_at", "payer")
    readonly_fields = fields


class OrderStateFilter(admin.SimpleListFilter):
    """The question staff ask first: which orders are still unpaid."""

    title = _("支付情况")
    parameter_name = "paid"

    def lookups(self, request, model_admin):
        return (("no", _("未支付")), ("yes", _("已支付（含退款）")), ("closed", _("已关闭")))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(state=Order.State.CREATED)
        if self.value() == "yes":
            return queryset.filter(state__in=Order.PAID_STATES)
        if self.value() == "closed":
            return queryset.filter(state=Order.State.CLOSED)
        return queryset


@admin.register(Order)
class OrderAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("order_no", "plate", "lot", "channel", "state", "amount", "created_at", "paid_at")
    list_filter = (OrderStateFilter, "state", "channel", ("lot__region", admin.RelatedOnlyFieldListFilter),
                   "created_at")
    search_fields = ("=order_no", "=plate", "=payments__transaction_id")
    list_select_related = ("lot",)
    date_hierarchy = "created_at"
    readonly_fields = ("order_no", "state", "channel", "amount_fen", "refunded_fen", "lot", "plate", "user",
                       "created_at", "expires_at", "paid_at", "closed_at", "close_reason")
    exclude = ("pay", "openid")
    inlines = (OrderItemInline, PaymentInline)
    actions = [export_csv(("order_no", "plate", "lot__code", "channel", "state", "amount_fen", "refunded_fen",
                           "created_at", "paid_at", "closed_at"), filename="orders")]

    @admin.display(description=_("金额"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("transaction_id", "order", "channel", "amount", "paid_at")
    list_filter = ("channel", "paid_at")
    search_fields = ("=transaction_id", "=order__order_no", "=order__plate")
    list_select_related = ("order",)
    date_hierarchy = "paid_at"
    readonly_fields = ("order", "channel", "transaction_id", "amount_fen", "paid_at", "payer", "raw", "created_at")

    @admin.display(description=_("金额"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)


@admin.register(PaymentException)
class PaymentExceptionAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Staff read what was wrong and close the exception with what they did (a refund, a match by
    hand); nothing else of it is editable."""

    list_display = ("created_at", "problem", "channel", "order_no", "amount", "state")
    list_filter = ("state", "problem", "channel", "created_at")
    search_fields = ("=order_no", "=transaction_id", "=order__plate")
    list_select_related = ("order",)
    readonly_fields = ("order", "channel", "order_no", "transaction_id", "amount_fen", "problem", "detail", "raw",
                       "state", "created_at", "resolved_at", "resolved_by")
    fields = (*readonly_fields, "resolution")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.state == PaymentException.State.RESOLVED:
            return (*fields, "resolution")
        return fields

    def save_model(self, request, obj, form, change):
        services.exception_resolve(exception=obj, actor=Actor.from_request(request),
                                   resolution=form.cleaned_data.get("resolution", ""))

    @admin.display(description=_("金额"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("refund_no", "order", "amount", "state", "requested_by", "approved_by", "created_at")
    list_filter = ("state", "created_at")
    search_fields = ("=refund_no", "=order__order_no", "=order__plate", "=provider_refund_id")
    list_select_related = ("order", "requested_by", "approved_by")

    @admin.display(description=_("金额"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)


@admin.register(PaymentAgreement)
class PaymentAgreementAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate", "channel", "state", "operator", "signed_at", "ended_at")
    list_filter = ("state", "channel")
    search_fields = ("=plate", "=provider_ref")
    list_select_related = ("operator",)


@admin.register(PayCodeLot)
class PayCodeAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Each lot's payment code (and each on-street berth's), as a sheet to print."""

    list_display = ("code", "name", "region", "kind", "sheet_link")
    list_filter = ("kind", ("region", admin.RelatedOnlyFieldListFilter))
    search_fields = ("code", "name")
    list_select_related = ("region",)

    def get_urls(self):
        sheet = self.admin_site.admin_view(self.sheet_view)
        return [path("<path:object_id>/sheet/", sheet, name="payments_paycodelot_sheet"), *super().get_urls()]

    @admin.display(description=_("缴费码"))
    def sheet_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:payments_paycodelot_sheet", args=[obj.pk]),
                           _("打印缴费码"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self.sheet_view(request, object_id)

    def sheet_view(self, request, object_id):
        lot = self.get_object(request, object_id)
        if lot is None or not self.has_view_permission(request, lot):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        codes = [{"title": lot.name, "subtitle": lot.code, "url": paycode.pay_url(request, lot.code)}]
        if lot.kind == lot.Kind.ON_STREET:
            codes += [{"title": lot.name, "subtitle": _("泊位 %(code)s") % {"code": code},
                       "url": paycode.pay_url(request, lot.code, code)}
                      for code in lot.berths.order_by("code").values_list("code", flat=True)]
        for code in codes:
            code["svg"] = mark_safe(paycode.qr_svg(code["url"]))  # segno's own markup, no input in it
        context = {**self.admin_site.each_context(request), "opts": self.opts, "lot": lot, "codes": codes,
                   "title": _("%(lot)s 的缴费码") % {"lot": lot.name}}
        return TemplateResponse(request, "admin/payments/paycode_sheet.html", context)
