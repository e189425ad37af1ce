"""The staff admin of the money that follows an order: agreements and their charges, arrears
recovery (rules, reminders, the public list, blacklists), statements with their exports, refunds
and the money rules. Scoped by the one mechanism (``ScopedAdminMixin``): an operator's staff see
their lots' money only. Every change goes through a service (and its audit entry)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.common.actor import Actor
from apps.common.admin import ReadOnlyAdminMixin, ScopedAdminMixin, message_domain_error
from apps.common.errors import DomainError
from apps.sessions.admin import PlateSearchMixin

from . import agreements, recovery, refunds, settlement
from .models import (
    AgreementCharge,
    ArrearsListing,
    ArrearsReminder,
    Blacklist,
    MoneyPolicy,
    PaymentAgreement,
    RecoveryArrears,
    Refund,
    ReminderRule,
    Statement,
    StatementLine,
)


def _yuan(fen) -> str:
    return "" if fen is None else f"¥{fen / 100:.2f}"


def _each(modeladmin, request, queryset, call, done: str) -> None:
    """Run ``call(obj)`` for each selected row in scope; a refusal is a message, not an error."""
    count = 0
    for obj in modeladmin.scoped_objects(request, queryset):
        try:
            call(obj)
        except DomainError as exc:
            message_domain_error(modeladmin, request, exc, obj)
        else:
            count += 1
    if count:
        modeladmin.message_user(request, done % {"n": count}, level=messages.SUCCESS)


class OverThirtyDaysFilter(admin.SimpleListFilter):
    title = _("欠费时长")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("30", _("未缴超过 30 天")),)

    def queryset(self, request, queryset):
        if self.value() == "30":
            return queryset.filter(paid_at__isnull=True, created_at__lt=timezone.now() - timedelta(days=30))
        return queryset


class AwaitingApprovalFilter(admin.SimpleListFilter):
    title = _("审批")
    parameter_name = "awaiting"

    def lookups(self, request, model_admin):
        return (("yes", _("待审批")),)

    def queryset(self, request, queryset):
        return queryset.filter(state=Refund.State.REQUESTED) if self.value() == "yes" else queryset


# -- agreements ------------------------------------------------------------------------------------

def _replace(model, model_admin):
    """Register ``model_admin`` in place of a read-only admin the payments core may have registered
    for the same model (this one saves through the services)."""
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)


class PaymentAgreementAdmin(PlateSearchMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate", "channel", "state", "operator", "signed_at", "ended_at")
    list_filter = ("state", "channel")
    search_fields = ("=plate", "provider_ref")
    fields = ("plate", "channel", "provider_ref", "operator", "state", "signed_at", "ended_at")
    actions = ["end_agreements"]

    def get_readonly_fields(self, request, obj=None):
        return ("state", "signed_at", "ended_at") if obj is None else self.fields

    def save_model(self, request, obj, form, change):
        if not change:
            signed = agreements.agreement_sign(plate=obj.plate, channel=obj.channel, provider_ref=obj.provider_ref,
                                               operator=obj.operator, actor=Actor.from_request(request))
            obj.pk = signed.pk

    @admin.action(description=_("解约所选协议"), permissions=["change"])
    def end_agreements(self, request, queryset):
        _each(self, request, queryset, lambda a: agreements.agreement_end(
            agreement=a, actor=Actor.from_request(request), reason=gettext("工作人员在后台解约")),
            gettext("已解约 %(n)s 份协议"))


@admin.register(AgreementCharge)
class AgreementChargeAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("arrears", "agreement", "state", "attempts", "order", "failure", "updated_at")
    list_filter = ("state",)
    search_fields = ("=arrears__plate", "=order__order_no")
    list_select_related = ("arrears", "agreement", "order")
    actions = ["retry"]

    def has_change_permission(self, request, obj=None):  # the action changes rows, through the service
        return ScopedAdminMixin.has_change_permission(self, request, obj) if obj is None else False

    @admin.action(description=_("重新扣款"), permissions=["change"])
    def retry(self, request, queryset):
        _each(self, request, queryset, lambda c: agreements.agreement_charge_retry(
            charge=c, actor=Actor.from_request(request), reason=gettext("工作人员在后台重新扣款")),
            gettext("已重新排队 %(n)s 笔扣款"))


# -- recovery --------------------------------------------------------------------------------------

@admin.register(RecoveryArrears)
class RecoveryArrearsAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate", "lot", "amount", "paid", "created_at", "paid_at")
    list_filter = (OverThirtyDaysFilter, ("lot__region", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=plate", "lot__code", "=order_items__order__order_no")
    list_select_related = ("lot",)

    @admin.display(description=_("欠费"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)

    @admin.display(description=_("已缴"))
    def paid(self, obj):
        return _yuan(obj.paid_fen)


@admin.register(ReminderRule)
class ReminderRuleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "action", "after_days", "min_owed_fen", "repeat_days", "region", "enabled")
    list_filter = ("action", "enabled")


@admin.register(ArrearsReminder)
class ArrearsReminderAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate", "rule", "owed_fen", "arrears_count", "oldest_at", "sent_at")
    list_filter = ("rule__action",)
    search_fields = ("=plate",)


@admin.register(ArrearsListing)
class ArrearsListingAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("plate", "rule", "listed_at", "ended_at")
    search_fields = ("=plate",)


@admin.register(Blacklist)
class BlacklistAdmin(PlateSearchMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Staff lift a flag by giving the reason on its page (``recovery.blacklist_lift``, audited)."""

    list_display = ("plate", "operator", "state", "since", "ended_at", "lifted_by")
    list_filter = ("state",)
    search_fields = ("=plate",)
    list_select_related = ("operator", "lifted_by")
    fields = ("plate", "operator", "rule", "state", "since", "ended_at", "lifted_by", "lift_reason")
    service_error_fields = {"lift_reason": "lift_reason"}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        done = obj is not None and obj.state != Blacklist.State.ACTIVE
        return self.fields if done else tuple(f for f in self.fields if f != "lift_reason")

    def save_model(self, request, obj, form, change):
        recovery.blacklist_lift(blacklist=obj, actor=Actor.from_request(request), reason=obj.lift_reason)


# -- statements ------------------------------------------------------------------------------------

class StatementLineInline(ReadOnlyAdminMixin, ScopedAdminMixin, admin.TabularInline):
    model = StatementLine
    fields = ("kind", "lot", "order", "refund", "region", "channel", "base_fen", "rate_bp", "amount_fen", "at")
    readonly_fields = fields
    extra = 0


@admin.register(Statement)
class StatementAdmin(PlateSearchMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("operator", "kind", "period_start", "period_end", "paid", "refunded", "net", "fee", "built_at")
    list_filter = ("kind", "period_start")
    date_hierarchy = "period_start"
    search_fields = ("operator__name", "operator__credit_code", "=lines__order__order_no", "=lines__order__plate")
    list_select_related = ("operator",)
    inlines = [StatementLineInline]
    actions = ["export_csv", "export_xlsx", "rebuild"]

    @admin.display(description=_("收款"))
    def paid(self, obj):
        return _yuan(obj.paid_fen)

    @admin.display(description=_("退款"))
    def refunded(self, obj):
        return _yuan(obj.refunded_fen)

    @admin.display(description=_("净额"))
    def net(self, obj):
        return _yuan(obj.net_fen)

    @admin.display(description=_("服务费"))
    def fee(self, obj):
        return _yuan(obj.service_fee_fen)

    def _export(self, request, queryset, fmt):
        statements = list(self.scoped_objects(request, queryset)[:2])
        if len(statements) != 1:
            self.message_user(request, gettext("请只选择一张结算单导出"), level=messages.WARNING)
            return None
        name, content, content_type = settlement.statement_export(statement=statements[0], fmt=fmt,
                                                                  actor=Actor.from_request(request))
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.action(description=_("导出 CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, "csv")

    @admin.action(description=_("导出 Excel（XLSX）"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        return self._export(request, queryset, "xlsx")

    @admin.action(description=_("按最新收付款重新生成"), permissions=["view"])
    def rebuild(self, request, queryset):
        _each(self, request, queryset, lambda s: settlement.statement_build(
            operator=s.operator, kind=s.kind, period_start=s.period_start, actor=Actor.from_request(request)),
            gettext("已重新生成 %(n)s 张结算单"))


# -- refunds and rules ----------------------------------------------------------------------------

class RefundAdmin(PlateSearchMixin, ScopedAdminMixin, admin.ModelAdmin):
    """A refund is asked for on the add page (order, the debt, amount, reason); a second member of
    staff approves it (action) or rejects it with a reason on its page."""

    list_display = ("refund_no", "order", "amount", "state", "requested_by", "approved_by", "created_at")
    list_filter = (AwaitingApprovalFilter, "state")
    search_fields = ("=refund_no", "=order__order_no", "=order__plate")
    list_select_related = ("order", "requested_by", "approved_by")
    add_fields = ("order", "item", "amount_fen", "reason")
    actions = ["approve"]
    raw_id_fields = ("order", "item")

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return ("refund_no", "order", "item", "amount_fen", "reason", "state", "requested_by", "approved_by",
                "provider_refund_id", "created_at", "approved_at", "completed_at", "failure")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fields = self.get_fields(request, obj)
        return fields if obj.state != Refund.State.REQUESTED else tuple(f for f in fields if f != "failure")

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        if not change:
            made = refunds.refund_request(order=obj.order, item=obj.item, amount_fen=obj.amount_fen, reason=obj.reason,
                                          actor=actor)
            obj.pk = made.pk
        elif "failure" in form.changed_data:
            refunds.refund_reject(refund=obj, actor=actor, reason=obj.failure)

    @admin.display(description=_("金额"), ordering="amount_fen")
    def amount(self, obj):
        return _yuan(obj.amount_fen)

    @admin.action(description=_("审批通过所选退款"), permissions=["change"])
    def approve(self, request, queryset):
        _each(self, request, queryset, lambda r: refunds.refund_approve(refund=r, actor=Actor.from_request(request)),
              gettext("已审批 %(n)s 笔退款"))


_replace(PaymentAgreement, PaymentAgreementAdmin)
_replace(Refund, RefundAdmin)


@admin.register(MoneyPolicy)
class MoneyPolicyAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("region", "valid_from", "refund_approval_over_fen", "service_fee_bp", "recovery_incentive_bp")
    list_filter = ("region",)


def extend_permissions(app_label: str) -> None:
    """What each kind of staff may do with this money in the admin (the rows: by scope). Every
    member of staff reads their scope's money and asks for refunds, lifts flags and retries charges
    there; rules and rates are set by city and district staff."""
    from apps.regions.models import StaffScope
    from apps.regions.services import extend_staff_permissions

    read = ["view_paymentagreement", "view_agreementcharge", "view_recoveryarrears", "view_arrearsreminder",
            "view_arrearslisting", "view_blacklist", "view_statement", "view_statementline", "view_refund",
            "view_moneypolicy", "view_reminderrule"]
    act = ["change_blacklist", "add_refund", "change_refund", "change_agreementcharge", "add_paymentagreement",
           "change_paymentagreement"]
    rules = ["add_moneypolicy", "change_moneypolicy", "add_reminderrule", "change_reminderrule"]
    for kind in StaffScope.Kind.values:
        extend_staff_permissions(kind, app_label, read + act + (rules if kind != StaffScope.Kind.OPERATOR else []))
