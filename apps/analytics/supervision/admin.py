"""Supervision in the staff admin: the cases (scoped by ``for_user``: a district officer sees only
the cases of their region's lots, an operator's staff those of their own lots), worked with buttons
on the case page and actions on the list; the rules, which only city-wide staff change. Every
change goes through ``services``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from apps.common.actor import Actor
from apps.common.admin import ScopedAdminMixin, message_domain_error
from apps.common.errors import DomainError
from apps.common.scope import scope_of

from ..models import SupervisionCase, SupervisionRule
from . import evidence, rules, services, workflow


# -- rules ----------------------------------------------------------------------------------------
@admin.register(SupervisionRule)
class SupervisionRuleAdmin(SimpleHistoryAdmin):
    """A row per rule (seeded); every member of staff with the permission reads them, city-wide
    staff change them. The history page shows who changed which number when."""

    list_display = ("code", "enabled", "window_minutes", "threshold", "ratio", "minimum", "history_days",
                    "due_hours", "quiet_hours", "meaning", "updated_at")
    list_display_links = ("code",)
    list_filter = ("enabled",)
    fields = ("code", "meaning", "enabled", "window_minutes", "threshold", "ratio", "minimum", "history_days",
              "due_hours", "quiet_hours")
    readonly_fields = ("code", "meaning")

    def revert_disabled(self, request, obj=None):
        return True

    def _city(self, request) -> bool:
        return scope_of(request.user).city_wide

    def has_add_permission(self, request):
        return False  # one row per rule, seeded by the migration

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._city(request)

    @admin.display(description=_("参数说明"))
    def meaning(self, rule):
        return format_html_join("", "<div>{}：{}</div>", (
            (str(SupervisionRule._meta.get_field(name).verbose_name), text)
            for name, text in rules.MEANINGS.get(rule.code, {}).items()))

    def save_model(self, request, obj, form, change):
        services.rule_save(rule=obj, actor=Actor.from_request(request))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as refusal:
            message_domain_error(self, request, refusal)
            return HttpResponseRedirect(request.path)


# -- cases ----------------------------------------------------------------------------------------
class RegionFilter(admin.SimpleListFilter):
    """The districts of the cases the user may see (not the whole city's list)."""

    title = _("区域")
    parameter_name = "region"

    def lookups(self, request, model_admin):
        return (model_admin.get_queryset(request).order_by("lot__region__code")
                .values_list("lot__region_id", "lot__region__name").distinct())

    def queryset(self, request, queryset):
        if self.value():
            try:
                return queryset.filter(lot__region_id=int(self.value()))
            except ValueError:
                return queryset.none()
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = _("时效")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("yes", _("已超期未结案")), ("no", _("未超期")))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.overdue(now=now)
        if self.value() == "no":
            return queryset.exclude(pk__in=queryset.overdue(now=now).values("pk"))
        return queryset


class CauseFilter(admin.SimpleListFilter):
    title = _("问题状态")
    parameter_name = "cause"

    def lookups(self, request, model_admin):
        return (("ongoing", _("仍在持续")), ("ended", _("已消除")))

    def queryset(self, request, queryset):
        if self.value() in ("ongoing", "ended"):
            return queryset.filter(ended_at__isnull=self.value() == "ongoing")
        return queryset


class CaseActionForm(ActionForm):
    note = forms.CharField(label=_("办理说明"), required=False, help_text=_("不予立案须填写理由"))


@admin.register(SupervisionCase)
class SupervisionCaseAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("case_no", "lot", "region", "rule", "state", "assignee", "raised_at", "cause", "due_at",
                    "punctuality")
    list_filter = ("rule", "state", RegionFilter, OverdueFilter, CauseFilter)
    list_select_related = ("lot", "lot__region", "rule", "assignee")
    search_fields = ("=lot__code", "lot__name")
    date_hierarchy = "raised_at"
    action_form = CaseActionForm
    actions = ["assign_to_me", "start_work", "close_cases", "dismiss_cases"]
    change_form_template = "admin/analytics/supervisioncase/change_form.html"
    SHOWN = ("case_no", "lot", "region", "rule", "state", "assignee", "raised_at", "last_detected_at", "ended_at",
             "due_at", "closed_at")
    fieldsets = ((_("督查案件"), {"fields": SHOWN}), (_("证据"), {"fields": ("evidence_table",)}),
                 (_("办理记录"), {"fields": ("history",)}))
    readonly_fields = (*SHOWN, "evidence_table", "history")

    def has_add_permission(self, request):
        return False  # cases are raised by the rules

    def has_delete_permission(self, request, obj=None):
        return False  # a case is closed or dismissed, never deleted: its history is the record

    @admin.display(description=_("案件编号"), ordering="pk")
    def case_no(self, case):
        return str(case)

    @admin.display(description=_("区域"), ordering="lot__region__code")
    def region(self, case):
        return case.lot.region.name

    @admin.display(description=_("问题消除"), ordering="ended_at")
    def cause(self, case):
        if case.ended_at is None:
            return format_html('<strong style="color:#c9302c">{}</strong>', _("仍在持续"))
        return f"{timezone.localtime(case.ended_at):%Y-%m-%d %H:%M}"

    @admin.display(description=_("时效"))
    def punctuality(self, case):
        if case.state in workflow.ACTIVE_STATES and case.due_at < timezone.now():
            return format_html('<strong style="color:#c9302c">{}</strong>', _("已超期"))
        return "—"

    @admin.display(description=_("证据"))
    def evidence_table(self, case):
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", evidence.rows(case.evidence))
        return format_html('<table class="wxp-case-evidence"><tbody>{}</tbody></table>', body)

    @admin.display(description=_("办理记录"))
    def history(self, case):
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (f"{timezone.localtime(c.at):%Y-%m-%d %H:%M}", c.get_kind_display(), workflow.label(c.state),
             c.note + (f"（{c.assignee}）" if c.assignee_id else ""), c.actor or _("系统"))
            for c in case.changes.select_related("actor", "assignee")))
        return format_html('<table class="wxp-case-history"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
                           "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
                           _("时间"), _("类型"), _("状态"), _("说明"), _("操作人"), rows)

    # -- the case page's buttons ----------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<path:object_id>/act/", view(self.act_view), name="analytics_supervisioncase_act"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                 "show_delete": False}
        case = self._case(request, object_id)
        if case is not None and self.has_change_permission(request, case):
            extra.update({
                "case_act_url": reverse("admin:analytics_supervisioncase_act", args=[case.pk]),
                "case_moves": [(t, workflow.MOVE_LABELS[t]) for t, _label in workflow.STATES
                               if t in workflow.allowed_moves(case.state) and t != workflow.ASSIGNED],
                "case_can_assign": case.state in workflow.ACTIVE_STATES,
                "case_assignees": services.assignable_staff(case) if case.state in workflow.ACTIVE_STATES else [],
            })
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _case(self, request, object_id):
        try:
            pk = self.model._meta.pk.to_python(object_id)
        except ValidationError:
            return None
        return self.get_queryset(request).select_related("lot", "lot__region").filter(pk=pk).first()

    def act_view(self, request, object_id):
        """One button of the case page: assign, a move, or a note. A case outside the user's scope
        is not found, whatever its id."""
        case = self._case(request, object_id)
        if case is None:
            raise Http404
        if request.method != "POST" or not self.has_change_permission(request, case):
            raise PermissionDenied
        actor = Actor.from_request(request)
        target, note = request.POST.get("target", ""), request.POST.get("note", "")
        try:
            if target == "assign":
                assignee = get_user_model().objects.filter(pk=request.POST.get("assignee") or 0).first() \
                    if (request.POST.get("assignee") or "").isdigit() else None
                services.case_assign(case=case, assignee=assignee, actor=actor, note=note)
            elif target == "note":
                services.case_note(case=case, note=note, actor=actor)
            else:
                services.case_transition(case=case, target=target, actor=actor, note=note)
        except DomainError as exc:
            message_domain_error(self, request, exc)
        else:
            self.message_user(request, gettext("已办理：{case}").format(case=case), level=messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:analytics_supervisioncase_change", args=[case.pk]))

    # -- list actions ---------------------------------------------------------------------------
    def _each(self, request, queryset, do) -> None:
        done = 0
        for case in self.scoped_objects(request, queryset):
            try:
                do(case)
                done += 1
            except DomainError as exc:
                message_domain_error(self, request, exc, case)
        if done:
            self.message_user(request, gettext("已办理 {n} 件").format(n=done), level=messages.SUCCESS)

    @admin.action(description=_("指派给我"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        actor = Actor.from_request(request)
        self._each(request, queryset, lambda case: services.case_assign(
            case=case, assignee=request.user, actor=actor, note=request.POST.get("note", "")))

    def _move(self, request, queryset, target):
        actor = Actor.from_request(request)
        self._each(request, queryset, lambda case: services.case_transition(
            case=case, target=target, actor=actor, note=request.POST.get("note", "")))

    @admin.action(description=_("开始整改"), permissions=["change"])
    def start_work(self, request, queryset):
        self._move(request, queryset, workflow.IN_PROGRESS)

    @admin.action(description=_("结案（问题已消除）"), permissions=["change"])
    def close_cases(self, request, queryset):
        self._move(request, queryset, workflow.CLOSED)

    @admin.action(description=_("不予立案（须填写理由）"), permissions=["change"])
    def dismiss_cases(self, request, queryset):
        self._move(request, queryset, workflow.DISMISSED)
