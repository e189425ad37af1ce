"""The case workflow (apps/analytics/supervision/workflow.py): every allowed move passes through the
service and is recorded with who, when and the note; every other move, a close while the cause
goes on, a dismissal without a reason, an actor or an assignee outside the lot's scope is refused
with a stable code and changes nothing; quiet cases close by themselves after their rule's period."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from apps.analytics.models import CaseChange, SupervisionCase
from apps.analytics.supervision import engine, services, workflow
from apps.analytics.supervision.errors import (
    AssigneeOutOfScope,
    CauseOngoing,
    IllegalTransition,
    NoteRequired,
    OutOfScope,
)
from apps.audit.models import AuditEntry
from apps.lots.models import LotOutage

from .conftest import T, cases, rule, run

pytestmark = pytest.mark.django_db

STATES = [code for code, _label in workflow.STATES]
FORBIDDEN = [(a, b) for a, b in itertools.product(STATES, STATES) if b not in workflow.ALLOWED_TRANSITIONS[a]]
H = timedelta(hours=1)


@pytest.fixture
def case(liangxi_lot):
    LotOutage.objects.create(lot=liangxi_lot, started_at=T - 2 * H)
    run("outage", T)
    return cases(liangxi_lot, "outage")[0]


def _end_cause(case):
    LotOutage.objects.filter(lot=case.lot).update(ended_at=T + H)
    run("outage", T + 2 * H)
    case.refresh_from_db()
    assert case.ended_at == T + H


@pytest.mark.parametrize(("state", "target"), FORBIDDEN)
def test_the_table_refuses_every_move_it_does_not_list(state, target):
    with pytest.raises(IllegalTransition) as refused:
        workflow.check_move(state=state, target=target, cause_ended=True, note="理由")
    assert refused.value.code == "illegal_transition" and refused.value.status == 409


def test_an_officer_assigns_works_and_closes_a_case_once_its_cause_has_ended(case, officer, staff_factory):
    worker = staff_factory("region", "320213")
    services.case_assign(case=case, assignee=worker, actor=officer, note="请核查网络")
    services.case_transition(case=case, target=workflow.IN_PROGRESS, actor=worker, note="已联系停车场")
    with pytest.raises(CauseOngoing) as refused:
        services.case_transition(case=case, target=workflow.CLOSED, actor=worker)
    assert refused.value.code == "cause_ongoing"
    _end_cause(case)
    services.case_transition(case=case, target=workflow.CLOSED, actor=worker, note="已恢复上报")
    case.refresh_from_db()
    assert case.state == workflow.CLOSED and case.assignee == worker and case.closed_at is not None
    kinds = list(case.changes.order_by("pk").values_list("kind", "state", "actor__username", "note"))
    assert kinds == [("raised", "open", None, "规则发现问题，自动立案"),
                     ("assigned", "assigned", officer.username, "请核查网络"),
                     ("state", "in_progress", worker.username, "已联系停车场"),
                     ("cause_ended", "in_progress", None, "规则不再发现该问题"),
                     ("state", "closed", worker.username, "已恢复上报")]
    assert case.last_change == case.changes.order_by("-at", "-pk").first()
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {
        "supervision_case.assigned", "supervision_case.in_progress", "supervision_case.closed"}
    with pytest.raises(IllegalTransition):
        services.case_transition(case=case, target=workflow.IN_PROGRESS, actor=worker)
    with pytest.raises(IllegalTransition):
        services.case_assign(case=case, assignee=worker, actor=officer)


def test_a_false_alarm_is_dismissed_only_with_a_reason(case, officer):
    with pytest.raises(NoteRequired):
        services.case_transition(case=case, target=workflow.DISMISSED, actor=officer, note="  ")
    case.refresh_from_db()
    assert case.state == workflow.OPEN
    services.case_transition(case=case, target=workflow.DISMISSED, actor=officer, note="停车场停业装修")
    case.refresh_from_db()
    assert case.state == workflow.DISMISSED
    # The episode goes on: a dismissed case still covers it, no second case is raised.
    assert run("outage", T + 10 * timedelta(minutes=1))["raised"] == 0


def test_staff_outside_the_lot_s_scope_can_neither_work_nor_take_a_case(case, officer, binhu_officer):
    before = CaseChange.objects.count()
    with pytest.raises(OutOfScope):
        services.case_transition(case=case, target=workflow.DISMISSED, actor=binhu_officer, note="x")
    with pytest.raises(OutOfScope):
        services.case_assign(case=case, assignee=binhu_officer, actor=binhu_officer)
    with pytest.raises(AssigneeOutOfScope) as refused:
        services.case_assign(case=case, assignee=binhu_officer, actor=officer)
    assert refused.value.code == "assignee_out_of_scope"
    case.refresh_from_db()
    assert case.state == workflow.OPEN and case.assignee is None and CaseChange.objects.count() == before
    assert binhu_officer not in services.assignable_staff(case) and officer in services.assignable_staff(case)


def test_a_case_closes_itself_after_its_rule_s_quiet_period(case, liangxi_lot):
    _end_cause(case)  # ended at T + 1 h
    assert engine.cases_autoclose(now=T + 24 * H) == 0
    assert engine.cases_autoclose(now=T + 25 * H) == 1
    case.refresh_from_db()
    assert case.state == workflow.CLOSED and case.last_change.kind == "auto_closed"
    assert case.last_change.from_state == workflow.OPEN and case.last_change.actor is None


def test_a_quiet_period_of_zero_leaves_closing_to_staff(case):
    outage = rule("outage")
    outage.quiet_hours = 0
    outage.save()
    _end_cause(case)
    assert engine.cases_autoclose(now=T + 1000 * H) == 0
    assert SupervisionCase.objects.get(pk=case.pk).state == workflow.OPEN


def test_the_periodic_task_runs_every_rule(liangxi_lot):
    from apps.analytics.supervision.tasks import supervise_data_quality

    LotOutage.objects.create(lot=liangxi_lot, started_at=T - 2 * H)
    result = supervise_data_quality()
    assert result["outage"]["raised"] == 1 and set(result) >= {"silent", "count_drift", "frozen_free", "auto_closed"}
