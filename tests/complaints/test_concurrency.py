"""Two members of staff acting on one ticket at the same moment (PostgreSQL, real threads): the
ticket's lock makes the second see the first's move, so exactly one wins and history has one row;
ticket numbers handed out at once never repeat."""

from __future__ import annotations

import pytest

from apps.complaints import services
from apps.complaints.errors import ComplaintError
from apps.complaints.models import Channel, Ticket, TicketChange
from tests.factories_complaints import PHONE, make_ticket
from tests.threads import run_together as _run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _outcome(job):
    """The job's result, or the error it raised: each side of a race is judged below."""
    def run():
        try:
            return job()
        except ComplaintError as exc:
            return exc
    return run


def _together(jobs):
    return _run_together([_outcome(job) for job in jobs])


def test_resolving_and_rejecting_at_once_one_wins(city, staff_factory):
    first, second = staff_factory("region", "320213"), staff_factory("region", "320213")
    ticket = make_ticket()
    services.ticket_transition(ticket=ticket, target="in_progress", actor=first)
    results = _together([
        lambda: services.ticket_transition(ticket=ticket.pk, target="resolved", actor=first, note="已修复"),
        lambda: services.ticket_transition(ticket=ticket.pk, target="resolved", actor=second, note="已处理"),
    ])
    won = [r for r in results if isinstance(r, Ticket)]
    lost = [r for r in results if isinstance(r, ComplaintError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].code == "illegal_transition"
    assert TicketChange.objects.filter(ticket=ticket, state="resolved").count() == 1
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.state == "resolved" and stored.last_change.state == "resolved"


def test_two_staff_moving_a_dispatched_ticket_differently(city, staff_factory):
    first, second = staff_factory("region", "320213"), staff_factory("region", "320213")
    ticket = make_ticket()
    results = _together([
        lambda: services.ticket_transition(ticket=ticket.pk, target="in_progress", actor=first),
        lambda: services.ticket_transition(ticket=ticket.pk, target="rejected", actor=second, reason="duplicate"),
    ])
    won = [r for r in results if isinstance(r, Ticket)]
    assert len(won) == 1, results
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.state == won[0].state
    assert list(TicketChange.objects.filter(ticket=ticket).values_list("state", flat=True)) == [
        "received", "dispatched", won[0].state]


def test_numbers_handed_out_at_once_never_repeat(city):
    def create():
        return services.ticket_create(channel=Channel.WEB, category="other", description="同时提交",
                                      phone=PHONE).ticket_no

    numbers = _together([create] * 8)
    assert all(isinstance(n, str) for n in numbers), numbers
    assert len(set(numbers)) == 8
    assert sorted(int(n[-4:]) for n in numbers) == list(range(1, 9))


def test_two_ratings_at_once_only_one_counts(city):
    from tests.factories_complaints import move

    ticket = move(make_ticket(), "in_progress", "resolved")
    results = _together([
        lambda: services.ticket_rate(ticket=Ticket.objects.get(pk=ticket.pk), score=5),
        lambda: services.ticket_rate(ticket=Ticket.objects.get(pk=ticket.pk), score=1),
    ])
    won = [r for r in results if isinstance(r, Ticket)]
    lost = [r for r in results if isinstance(r, ComplaintError)]
    assert len(won) == 1 and [e.code for e in lost] == ["already_rated"], results
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.rating == won[0].rating
    assert TicketChange.objects.filter(ticket=ticket, kind="rated").count() == 1
    assert stored.state == ("reopened" if stored.rating == 1 else "resolved")
