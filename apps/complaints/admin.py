"""The hotline in the staff admin: the call-taker's intake form, the ticket's work (move, note,
reassign, recategorise), supervision filters and per-unit figures, and the rules staff edit.
Every list is scoped by ``for_user`` (``ScopedAdminMixin``) and every save goes through a service."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.common import plates
from apps.common.actor import Actor
from apps.common.admin import ReadOnlyAdminMixin, ScopedAdminMixin, export_csv, message_domain_error
from apps.common.errors import DomainError
from apps.common.scope import scope_of
from apps.lots.widgets import CoordinatesField, CoordinatesWidget
from apps.sessions.admin import PlateSearchMixin
from apps.sessions.models import ParkingSession

from . import ports, services, workflow
from .models import Category, Channel, DispatchRule, Escalation, LocalDay, Open311Key, Ticket, Unit
from .selectors import punctuality_q, sessions_recent, unit_figures


class CityRulesAdminMixin:
    """Rows the whole city shares (categories and their SLA, local working days): every member
    of staff with the permission reads them; only city-wide staff change them."""

    def _city(self, request) -> bool:
        return scope_of(request.user).city_wide

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request) and self._city(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._city(request)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._city(request)

    def save_model(self, request, obj, form, change):
        services.rule_save(obj=obj, actor=Actor.from_request(request))


@admin.register(Category)
class CategoryAdmin(CityRulesAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "respond_hours", "resolve_working_days", "warn_hours", "city_after_hours",
                    "position", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")

    def has_delete_permission(self, request, obj=None):
        return False  # tickets keep their category: deactivate it instead


@admin.register(LocalDay)
class LocalDayAdmin(CityRulesAdminMixin, admin.ModelAdmin):
    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday",)
    date_hierarchy = "date"


@admin.register(Unit)
class UnitAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The responsible units, with the figures supervisors ask for."""

    list_display = ("name", "kind", "volume", "on_time_rate", "avg_respond", "avg_resolve")
    list_filter = ("kind",)
    search_fields = ("name", "region__name", "operator__name")
    autocomplete_fields = ("region", "operator")

    def get_queryset(self, request):
        return unit_figures(super().get_queryset(request))

    @admin.display(description=_("工单量"), ordering="volume")
    def volume(self, unit):
        return unit.volume

    @admin.display(description=_("按时办结率"))
    def on_time_rate(self, unit):
        if not unit.resolved_count:
            return "—"
        return f"{100 * unit.on_time_count / unit.resolved_count:.0f}%"

    @staticmethod
    def _hours(duration):
        return "—" if duration is None else _("{h:.1f} 小时").format(h=duration.total_seconds() / 3600)

    @admin.display(description=_("平均响应用时"))
    def avg_respond(self, unit):
        return self._hours(unit.avg_respond)

    @admin.display(description=_("平均办结用时"))
    def avg_resolve(self, unit):
        return self._hours(unit.avg_resolve)

    def save_model(self, request, obj, form, change):
        services.rule_save(obj=obj, actor=Actor.from_request(request))


@admin.register(DispatchRule)
class DispatchRuleAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("position", "category", "region", "operator", "unit", "active")
    list_display_links = ("unit",)
    list_editable = ("position", "active")
    list_filter = ("active", "category")
    autocomplete_fields = ("region", "operator", "unit")

    def save_model(self, request, obj, form, change):
        services.rule_save(obj=obj, actor=Actor.from_request(request))


@admin.register(Open311Key)
class Open311KeyAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Keys are issued with ``manage.py issue_open311_key`` (the key is shown once); here they are revoked."""

    list_display = ("name", "prefix", "created_at", "revoked_at")
    actions = ["revoke"]

    @admin.action(description=_("吊销所选密钥"), permissions=["view"])
    def revoke(self, request, queryset):
        if not scope_of(request.user).city_wide:
            self.message_user(request, _("只有市级管理员可以吊销密钥"), level="error")
            return
        for key in self.scoped_objects(request, queryset):
            services.open311_key_revoke(key=key, actor=Actor.from_request(request))


# -- tickets --------------------------------------------------------------------------------------
class PunctualityFilter(admin.SimpleListFilter):
    title = _("时效")
    parameter_name = "punctuality"

    def lookups(self, request, model_admin):
        return (("on_time", _("按时办结")), ("late", _("超时办结")), ("overdue", _("已超期未办结")))

    def queryset(self, request, queryset):
        if self.value() in ("on_time", "late", "overdue"):
            return queryset.filter(punctuality_q(self.value(), now=timezone.now()))
        return queryset


class Import12345Form(forms.Form):
    file = forms.FileField(label=_("12345 导出文件（CSV）"),
                           help_text=_("列：工单编号、受理时间、诉求类别、诉求内容、来电号码，可选联系人、地址、停车场编码、车牌"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("文件超过 5 MB，请分批导入"))
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(_("文件须为 UTF-8 编码的 CSV")) from exc


class TicketIntakeForm(forms.ModelForm):
    """The call-taker's form: phone first, a category in one click, the plate's recent stays
    looked up as it is typed, a lot by name, a point on the map."""

    position = CoordinatesField(label=_("位置"), required=False, widget=CoordinatesWidget(),
                                help_text=_("可在地图上点选（WGS-84），选填"))
    session = forms.ModelChoiceField(label=_("停车记录"), queryset=ParkingSession.objects.none(), required=False,
                                     help_text=_("输入车牌后列出该车最近的停车记录；收费争议未选时按车牌、停车场和时间自动匹配"))

    class Meta:
        model = Ticket
        fields = ("phone", "caller_name", "category", "description", "plate", "lot", "region", "address")
        widgets = {"category": forms.RadioSelect, "description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["phone"].required = True
        self.fields["category"].queryset = Category.objects.filter(active=True)
        self.fields["category"].empty_label = None
        if "region" in self.fields:
            self.fields["region"].help_text = _("无停车场时选择诉求所在区域")
        plate = self.data.get("plate") if self.is_bound else None
        request = getattr(self, "request", None)
        if plate and request is not None:
            try:
                plate = plates.validate(plate)
            except plates.PlateError:
                return
            self.fields["session"].queryset = ParkingSession.objects.for_user(request.user).filter(
                pk__in=[s.pk for s in sessions_recent(plate=plate, user=request.user, limit=20)])

    def clean_phone(self):
        try:
            return services.phone_normalize(self.cleaned_data.get("phone"))
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_plate(self):
        value = self.cleaned_data.get("plate") or ""
        try:
            return plates.validate(value) if value.strip() else ""
        except plates.PlateError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean(self):
        # The ticket's region (what scope judges) is its lot's, or the one chosen.
        cleaned = super().clean()
        if cleaned.get("lot") is not None:
            cleaned["region"] = cleaned["lot"].region
        return cleaned


class TicketWorkForm(forms.ModelForm):
    """Working an existing ticket: one move of the workflow, a note, a reassignment, a new category."""

    move_to = forms.ChoiceField(label=_("办理"), required=False)
    reason = forms.ChoiceField(label=_("不予受理原因"), required=False,
                               choices=[("", "—"), *workflow.REJECT_REASONS])
    note = forms.CharField(label=_("办理说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    note_public = forms.BooleanField(label=_("对市民公开"), required=False, initial=True)
    reassign_to = forms.ModelChoiceField(label=_("改派至"), queryset=Unit.objects.all(), required=False)
    reassign_reason = forms.CharField(label=_("改派原因"), required=False)
    new_category = forms.ModelChoiceField(label=_("改类别"), queryset=Category.objects.filter(active=True),
                                          required=False, help_text=_("改类别后按新类别重新计算时限"))

    class Meta:
        model = Ticket
        fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        state = self.instance.state
        self.fields["move_to"].choices = [("", "—")] + [
            (target, workflow.label(target)) for target, _label in workflow.STATES
            if target in workflow.allowed_moves(state)]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reassign_to") and not (cleaned.get("reassign_reason") or "").strip():
            self.add_error("reassign_reason", _("改派须说明原因"))
        return cleaned


@admin.register(Ticket)
class TicketAdmin(PlateSearchMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("ticket_no", "category", "state", "channel", "unit", "region", "created_at", "respond_by",
                    "resolve_by", "punctuality", "escalation")
    list_filter = ("state", PunctualityFilter, "escalation", "review_requested", "category", "channel")
    search_fields = ("=ticket_no", "=phone", "=plate", "=external_id", "description")
    date_hierarchy = "created_at"
    list_select_related = ("category", "unit", "region")
    autocomplete_fields = ("lot", "region")
    actions = ["escalate", "start_refund", export_csv(
        ["ticket_no", "channel", "category__name", "state", "unit__name", "region__name", "lot__code",
         "created_at", "respond_by", "resolve_by", "responded_at", "resolved_at", "escalation", "rating"],
        filename="tickets")]
    service_error_fields = {"lat": "position", "lon": "position", "unit": "reassign_to", "category": "new_category"}
    WORK_FIELDS = ("move_to", "reason", "note", "note_public", "reassign_to", "reassign_reason", "new_category")
    SHOWN = ("ticket_no", "state", "channel", "category", "unit", "region", "created_at", "respond_by", "resolve_by",
             "responded_at", "resolved_at", "escalation", "review_requested", "description", "phone", "caller_name",
             "plate", "lot", "session", "address", "lat", "lon", "rating", "rating_comment", "refund_ref")

    class Media:
        js = ("complaints/intake.js",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TicketWorkForm if obj is not None else TicketIntakeForm
        if obj is not None:
            kwargs["fields"] = self.WORK_FIELDS
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("phone", "caller_name", "category", "description", "plate", "session",
                                       "lot", "region", "position", "address")})]
        return [(_("工单"), {"fields": self.SHOWN}), (_("办理记录"), {"fields": ("history",)}),
                (_("办理"), {"fields": self.WORK_FIELDS})]

    def get_readonly_fields(self, request, obj=None):
        return (*self.SHOWN, "history") if obj is not None else ()

    @admin.display(description=_("办理记录"))
    def history(self, ticket):
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (f"{timezone.localtime(c.at):%Y-%m-%d %H:%M}", c.get_kind_display(), workflow.label(c.state),
             c.note, _("公开") if c.public else _("内部"), c.actor or _("系统"))
            for c in ticket.changes.select_related("actor")))
        return format_html('<table class="wxp-ticket-history"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
                           "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
                           _("时间"), _("类型"), _("状态"), _("说明"), _("公开"), _("操作人"), rows)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("lookup/", view(self.lookup_view), name="complaints_ticket_lookup"),
                path("import-12345/", view(self.import_12345_view), name="complaints_ticket_import_12345"),
                *super().get_urls()]

    change_list_template = "admin/complaints/ticket/change_list.html"

    def has_import_permission(self, request) -> bool:
        """The 12345 line's export covers the whole city: its import is the city's hotline office's."""
        return self.has_add_permission(request) and scope_of(request.user).city_wide

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_import_permission": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_12345_view(self, request):
        """Upload the 12345 line's export (CSV): rows become tickets, rows already imported are skipped."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = Import12345Form(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            rows = csv.DictReader(io.StringIO(form.cleaned_data["file"]))
            result = services.tickets_import_12345(rows=rows, actor=Actor.from_request(request))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form, "result": result,
                   "title": _("导入12345工单")}
        return TemplateResponse(request, "admin/complaints/ticket/import_12345.html", context)

    def lookup_view(self, request):
        """A plate's recent stays the user may see, for the intake form (JSON)."""
        if not self.has_add_permission(request):
            return JsonResponse({"sessions": []}, status=403)
        try:
            plate = plates.validate(request.GET.get("plate", ""))
        except plates.PlateError as exc:
            return JsonResponse({"sessions": [], "error": exc.message}, status=400)
        rows = [{"id": s.pk, "lot_code": s.lot.code, "lot_name": s.lot.name,
                 "text": f"{s.lot.name} · {timezone.localtime(s.entry_at):%m-%d %H:%M}"
                         + (f" – {timezone.localtime(s.exit_at):%H:%M}" if s.exit_at else "")
                         + f" · ¥{s.amount_fen / 100:.2f}"}
                for s in sessions_recent(plate=plate, user=request.user)]
        return JsonResponse({"sessions": rows, "summary": gettext("{n} 条最近停车记录").format(n=len(rows))})

    def save_model(self, request, obj, form, change):
        actor = Actor.from_request(request)
        data = form.cleaned_data
        if not change:
            lat, lon = data.get("position") or (None, None)
            created = services.ticket_create(
                channel=Channel.PHONE, category=data["category"], description=data.get("description", ""),
                phone=data.get("phone", ""), caller_name=data.get("caller_name", ""), plate=data.get("plate", ""),
                lot=data.get("lot"), session=data.get("session"), lat=lat, lon=lon, address=data.get("address", ""),
                region=data.get("region"), actor=actor)
            obj.__dict__.update({k: v for k, v in created.__dict__.items() if k != "_state"})
            obj._state.adding = False
            obj._state.db = created._state.db
            return
        ticket = obj
        if data.get("new_category"):
            ticket = services.ticket_categorise(ticket=ticket, category=data["new_category"], actor=actor)
        if data.get("reassign_to"):
            ticket = services.ticket_reassign(ticket=ticket, unit=data["reassign_to"],
                                              reason=data.get("reassign_reason", ""), actor=actor)
        if data.get("move_to"):
            services.ticket_transition(ticket=ticket, target=data["move_to"], actor=actor, note=data.get("note", ""),
                                       public=data.get("note_public", False), reason=data.get("reason", ""))
        elif data.get("note"):
            services.ticket_note(ticket=ticket, note=data["note"], public=data.get("note_public", False), actor=actor)

    def save_related(self, request, form, formsets, change):
        pass  # the history is written by the services; nothing else is related

    @admin.display(description=_("时效"))
    def punctuality(self, ticket):
        if ticket.resolved_at is not None:
            late = ticket.resolved_at > ticket.resolve_by
            return format_html('<span style="color:{}">{}</span>', "#c9302c" if late else "#2e7d32",
                               _("超时办结") if late else _("按时办结"))
        if ticket.state in workflow.OPEN_STATES and ticket.resolve_by < timezone.now():
            return format_html('<strong style="color:#c9302c">{}</strong>', _("已超期"))
        return "—"

    @admin.action(description=_("督办所选工单（区级）"), permissions=["change"])
    def escalate(self, request, queryset):
        actor = Actor.from_request(request)
        for ticket in self.scoped_objects(request, queryset).filter(state__in=workflow.OPEN_STATES):
            try:
                services.ticket_escalate(ticket=ticket, level=Escalation.REGION, actor=actor, note=_("人工督办"))
            except DomainError as exc:
                message_domain_error(self, request, exc, ticket)

    @admin.action(description=_("为所选收费争议发起退款"), permissions=["change"])
    def start_refund(self, request, queryset):
        actor = Actor.from_request(request)
        for ticket in self.scoped_objects(request, queryset):
            try:
                services.ticket_start_refund(ticket=ticket, actor=actor)
            except DomainError as exc:
                message_domain_error(self, request, exc, ticket)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if ports.refund_starter() is None:
            actions.pop("start_refund", None)  # payments has not registered its refund port
        return actions
