"""Staff's writes on supervision: assigning, moving and annotating a case, editing a rule. Each
locks the row it changes, asks ``workflow.check_move`` when the state moves, writes the change as
a ``CaseChange`` row the case then points at, and audits what staff did."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, diff, field_values
from apps.common.actor import user_of
from apps.common.scope import may_change, scope_of

from ..models import CaseChange, SupervisionCase, SupervisionRule
from . import rules, workflow
from .errors import AssigneeOutOfScope, IllegalTransition, InvalidRule, OutOfScope

RULE_FIELDS = ("enabled", "window_minutes", "threshold", "ratio", "minimum", "history_days", "due_hours",
               "quiet_hours")


def _locked(case: SupervisionCase | int) -> SupervisionCase:
    pk = case.pk if isinstance(case, SupervisionCase) else case
    return (SupervisionCase.objects.select_for_update(of=("self",))
            .select_related("lot", "lot__region", "rule").get(pk=pk))


def _check_scope(actor, case: SupervisionCase) -> None:
    if user_of(actor) is not None and not may_change(actor, case):
        raise OutOfScope(_("只能办理本人负责范围内停车场的督查案件"))


def _record(case: SupervisionCase, *, kind: str, actor, at, note: str = "", from_state: str = "",
            assignee=None) -> CaseChange:
    user = user_of(actor)
    change = CaseChange.objects.create(case=case, kind=kind, from_state=from_state, state=case.state,
                                       note=note, assignee=assignee, actor=user if getattr(user, "pk", None) else None,
                                       at=at)
    case.last_change = change
    return change


def assignable_staff(case: SupervisionCase):
    """Active staff who may work ``case``: the city's, those of its lot's district or a division
    above it, its lot's operator's (``case_assign`` checks the one chosen with ``may_change``)."""
    regions, region = [], case.lot.region
    while region is not None:
        regions.append(region.pk)
        region = region.parent
    covers = (Q(is_superuser=True) | Q(staff_scope__kind="city")
              | Q(staff_scope__kind="region", staff_scope__region__in=regions))
    if case.lot.operator_id:
        covers |= Q(staff_scope__kind="operator", staff_scope__operator=case.lot.operator_id)
    return get_user_model().objects.filter(covers, is_active=True, is_staff=True).distinct().order_by("username")


@transaction.atomic
def case_assign(*, case: SupervisionCase | int, assignee, actor, note: str = "") -> SupervisionCase:
    """Give an active case to a member of staff who may work it; a new case becomes 已指派."""
    case = _locked(case)
    _check_scope(actor, case)
    if case.state not in workflow.ACTIVE_STATES:
        raise IllegalTransition(_("督查案件已{state}，不能再指派").format(state=workflow.label(case.state)),
                                details={"state": case.state})
    if assignee is None or not assignee.is_active or not assignee.is_staff or scope_of(assignee).empty \
            or not may_change(assignee, case):
        raise AssigneeOutOfScope(_("承办人须为负责该停车场的在职工作人员"), field="assignee")
    now = timezone.now()
    before = case.state
    if case.state == workflow.OPEN:
        workflow.check_move(state=case.state, target=workflow.ASSIGNED, cause_ended=case.cause_ended, note=note)
        case.state = workflow.ASSIGNED
    case.assignee = assignee
    _record(case, kind=CaseChange.Kind.ASSIGNED, actor=actor, at=now, note=note, from_state=before, assignee=assignee)
    case.save(update_fields=["state", "assignee", "last_change"])
    audit_record(action="supervision_case.assigned", actor=actor, obj=case,
                 changes={"assignee": [None, assignee.pk], "state": [before, case.state]})
    return case


@transaction.atomic
def case_transition(*, case: SupervisionCase | int, target: str, actor, note: str = "") -> SupervisionCase:
    """Move a case as the workflow allows: start work, close once the cause has ended, or dismiss
    (with a note) a case raised by mistake."""
    case = _locked(case)
    _check_scope(actor, case)
    if target == workflow.ASSIGNED:
        raise IllegalTransition(_("指派请选择承办人"), details={"state": case.state, "target": target})
    workflow.check_move(state=case.state, target=target, cause_ended=case.cause_ended, note=note)
    now = timezone.now()
    before = case.state
    case.state = target
    fields = ["state", "last_change"]
    if target in workflow.DONE_STATES:
        case.closed_at = now
        fields.append("closed_at")
    _record(case, kind=CaseChange.Kind.STATE, actor=actor, at=now, note=note.strip(), from_state=before)
    case.save(update_fields=fields)
    audit_record(action=f"supervision_case.{target}", actor=actor, obj=case, changes={"state": [before, target]})
    return case


@transaction.atomic
def case_note(*, case: SupervisionCase | int, note: str, actor) -> SupervisionCase:
    case = _locked(case)
    _check_scope(actor, case)
    if not note.strip():
        raise InvalidRule(_("请填写备注内容"), code="note_required", field="note")
    _record(case, kind=CaseChange.Kind.NOTE, actor=actor, at=timezone.now(), note=note.strip(), from_state=case.state)
    case.save(update_fields=["last_change"])
    return case


def rule_check(rule: SupervisionRule) -> None:
    """Numbers a rule can run with: a time span where the rule reads one, a share between 0 and 1."""
    meanings = rules.MEANINGS.get(rule.code, {})
    if "window_minutes" in meanings and not rule.window_minutes:
        raise InvalidRule(_("时段须大于 0 分钟"), field="window_minutes")
    if rule.threshold is None or rule.threshold < 0:
        raise InvalidRule(_("阈值不能为负数"), field="threshold")
    if rule.ratio is None or not 0 <= rule.ratio <= 1:
        raise InvalidRule(_("比例须在 0 到 1 之间"), field="ratio")
    if "history_days" in meanings and not rule.history_days:
        raise InvalidRule(_("历史天数须大于 0"), field="history_days")
    if not rule.due_hours:
        raise InvalidRule(_("处置时限须大于 0 小时"), field="due_hours")


@transaction.atomic
def rule_save(*, rule: SupervisionRule, actor) -> SupervisionRule:
    """Change a rule's numbers: the whole city's, so only city-wide staff. Cases already raised keep
    the numbers that raised them (their evidence); the next run uses the new ones."""
    if user_of(actor) is not None and not scope_of(actor).city_wide:
        raise OutOfScope(_("督查规则由市级管理员调整"))
    rule_check(rule)
    before = field_values(SupervisionRule.objects.select_for_update().get(pk=rule.pk), RULE_FIELDS) if rule.pk else {}
    rule.save()
    audit_record(action="supervision_rule.changed", actor=actor, obj=rule,
                 changes=diff(before, field_values(rule, RULE_FIELDS)))
    return rule
