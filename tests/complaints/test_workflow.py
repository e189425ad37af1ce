"""The workflow table (apps/complaints/workflow.py): every allowed move passes, every other one is
refused with a stable code, by the pure check and through the service (nothing saved)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.complaints import services, workflow
from apps.complaints.errors import ComplaintError, IllegalTransition, ReasonRequired, ReopenWindowPassed
from apps.complaints.models import Ticket, TicketChange
from tests.factories_complaints import make_ticket, move

STATES = [code for code, _label in workflow.STATES]
PAIRS = list(itertools.product(STATES, STATES))
ALLOWED = [(a, b) for a, b in PAIRS if b in workflow.ALLOWED_TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a, b in PAIRS if b not in workflow.ALLOWED_TRANSITIONS[a]]
NOW = timezone.now()

# How to bring a dispatched ticket to each state through the services.
PATH = {
    workflow.RECEIVED: (),
    workflow.DISPATCHED: (),
    workflow.IN_PROGRESS: (workflow.IN_PROGRESS,),
    workflow.RESOLVED: (workflow.IN_PROGRESS, workflow.RESOLVED),
    workflow.CLOSED: (workflow.IN_PROGRESS, workflow.RESOLVED, workflow.CLOSED),
    workflow.REOPENED: (workflow.IN_PROGRESS, workflow.RESOLVED, workflow.REOPENED),
    workflow.REJECTED: (workflow.REJECTED,),
}


def test_the_table_names_every_state_and_the_issue_s_moves():
    assert set(workflow.ALLOWED_TRANSITIONS) == set(STATES) == {
        "received", "dispatched", "in_progress", "resolved", "closed", "reopened", "rejected"}
    chain = ["received", "dispatched", "in_progress", "resolved", "closed"]
    for before, after in itertools.pairwise(chain):
        assert after in workflow.ALLOWED_TRANSITIONS[before]
    assert "reopened" in workflow.ALLOWED_TRANSITIONS["resolved"]
    assert workflow.ALLOWED_TRANSITIONS["closed"] == workflow.ALLOWED_TRANSITIONS["rejected"] == frozenset()


@pytest.mark.parametrize(("state", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_every_allowed_move_passes_the_check(state, target):
    reason = "duplicate" if target == workflow.REJECTED else ""
    workflow.check_move(state=state, target=target, reason=reason, resolved_at=NOW, now=NOW)


@pytest.mark.parametrize(("state", "target"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_every_other_move_is_refused_by_the_check(state, target):
    with pytest.raises(IllegalTransition) as refused:
        workflow.check_move(state=state, target=target, reason="duplicate", resolved_at=NOW, now=NOW)
    assert refused.value.code == "illegal_transition"
    assert refused.value.status == 409
    assert refused.value.details["allowed"] == sorted(workflow.ALLOWED_TRANSITIONS[state])


def test_rejecting_needs_one_of_the_reasons():
    with pytest.raises(ReasonRequired) as refused:
        workflow.check_move(state="received", target="rejected", reason="", now=NOW)
    assert refused.value.code == "reason_required"
    with pytest.raises(ReasonRequired):
        workflow.check_move(state="received", target="rejected", reason="bored", now=NOW)
    workflow.check_move(state="received", target="rejected", reason="out_of_scope", now=NOW)


def test_a_resolved_ticket_reopens_only_within_seven_days():
    workflow.check_move(state="resolved", target="reopened", resolved_at=NOW - timedelta(days=6, hours=23), now=NOW)
    with pytest.raises(ReopenWindowPassed) as refused:
        workflow.check_move(state="resolved", target="reopened", resolved_at=NOW - timedelta(days=7, seconds=1),
                            now=NOW)
    assert refused.value.code == "reopen_window_passed"


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "target"), [p for p in ALLOWED if p[0] != workflow.RECEIVED],
                         ids=[f"{a}->{b}" for a, b in ALLOWED if a != workflow.RECEIVED])
def test_every_allowed_move_through_the_service_writes_one_row(city, state, target):
    ticket = move(make_ticket(), *PATH[state])
    rows = TicketChange.objects.filter(ticket=ticket).count()
    reason = "duplicate" if target == workflow.REJECTED else ""
    moved = services.ticket_transition(ticket=ticket, target=target, actor=None, note="好", reason=reason)
    assert moved.state == target
    assert TicketChange.objects.filter(ticket=ticket).count() == rows + 1
    assert moved.last_change.state == target and moved.last_change.from_state == state


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "target"), [p for p in FORBIDDEN if p[0] != workflow.RECEIVED],
                         ids=[f"{a}->{b}" for a, b in FORBIDDEN if a != workflow.RECEIVED])
def test_every_forbidden_move_through_the_service_is_refused_and_saves_nothing(city, state, target):
    ticket = move(make_ticket(), *PATH[state])
    rows, audits = TicketChange.objects.count(), AuditEntry.objects.count()
    with pytest.raises(ComplaintError) as refused:
        services.ticket_transition(ticket=ticket, target=target, actor=None, reason="duplicate")
    assert refused.value.code == "illegal_transition"
    assert Ticket.objects.get(pk=ticket.pk).state == state
    assert (TicketChange.objects.count(), AuditEntry.objects.count()) == (rows, audits)


@pytest.mark.django_db
def test_a_received_ticket_moves_as_the_table_says(city):
    ticket = make_ticket(dispatch=False)
    assert ticket.state == workflow.RECEIVED
    with pytest.raises(IllegalTransition):
        services.ticket_transition(ticket=ticket, target=workflow.IN_PROGRESS, actor=None)
    rejected = services.ticket_transition(ticket=ticket, target=workflow.REJECTED, actor=None, reason="duplicate")
    assert rejected.state == workflow.REJECTED and rejected.closed_at is not None
