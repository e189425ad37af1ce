"""督办 by the periodic task with a frozen clock: a warning before the deadline, escalation to the
region's supervisor when overdue, then to the city, closing resolved tickets after 7 days; the task
is in Celery beat's schedule, which the embedded scheduler runs too. The admin's punctuality filter
and per-unit figures."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.complaints.models import Escalation, Ticket, Unit
from apps.complaints.selectors import punctuality_q, unit_figures
from apps.complaints.tasks import supervise_tickets
from apps.lots.fees import SHANGHAI
from tests.factories_complaints import make_ticket, move

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 16, 9, 0, tzinfo=SHANGHAI)


def test_the_task_warns_then_escalates_to_the_region_then_the_city(city, time_machine, notices,
                                                                   django_capture_on_commit_callbacks):
    time_machine.move_to(MONDAY, tick=False)
    ticket = make_ticket(category_code="equipment_fault")  # 2 h to respond, 2 working days: Wed 23:59:59
    move(ticket, "in_progress")  # responded, so only the resolve deadline counts
    assert ticket.resolve_by == datetime(2026, 3, 18, 23, 59, 59, tzinfo=SHANGHAI)

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            result = supervise_tickets()
        ticket.refresh_from_db()
        return result

    assert run() == {"dispatched": 0, "warned": 0, "region": 0, "city": 0, "closed": 0}
    time_machine.move_to(datetime(2026, 3, 18, 0, 0, tzinfo=SHANGHAI))  # a day before the deadline
    assert run()["warned"] == 1 and ticket.escalation == Escalation.WARNED
    assert run()["warned"] == 0  # once
    time_machine.move_to(datetime(2026, 3, 19, 0, 0, 1, tzinfo=SHANGHAI))
    assert run()["region"] == 1 and ticket.escalation == Escalation.REGION
    time_machine.move_to(datetime(2026, 3, 20, 0, 0, 0, tzinfo=SHANGHAI))
    assert run()["city"] == 1 and ticket.escalation == Escalation.CITY
    assert run() == {"dispatched": 0, "warned": 0, "region": 0, "city": 0, "closed": 0}
    assert [kind for kind, *_ in notices] == ["warning", "escalation", "escalation"]
    assert [c.kind for c in ticket.changes.all()][-3:] == ["warned", "escalated", "escalated"]
    assert not ticket.changes.filter(kind__in=["warned", "escalated"], public=True).exists()


def test_an_unanswered_ticket_escalates_when_its_response_time_passes(city, time_machine):
    time_machine.move_to(MONDAY, tick=False)
    ticket = make_ticket(category_code="berth_occupied")  # respond within 1 hour
    time_machine.move_to(MONDAY + timedelta(hours=1, minutes=1))
    assert supervise_tickets()["region"] == 1
    ticket.refresh_from_db()
    assert ticket.escalation == Escalation.REGION


def test_a_resolved_ticket_closes_itself_after_seven_days(city, time_machine):
    time_machine.move_to(MONDAY, tick=False)
    ticket = move(make_ticket(), "in_progress", "resolved")
    time_machine.move_to(MONDAY + timedelta(days=7, minutes=1))
    assert supervise_tickets()["closed"] == 1
    ticket.refresh_from_db()
    assert ticket.state == "closed" and ticket.last_change.public


def test_the_task_is_scheduled_for_beat_and_the_embedded_scheduler(city, time_machine):
    entry = settings.CELERY_BEAT_SCHEDULE["supervise-tickets"]
    assert entry["task"] == supervise_tickets.name == "apps.complaints.tasks.supervise_tickets"
    time_machine.move_to(MONDAY, tick=False)
    ticket = make_ticket(category_code="berth_occupied")
    time_machine.move_to(MONDAY + timedelta(hours=2))
    call_command("run_scheduler", "--once")
    ticket.refresh_from_db()
    assert ticket.escalation == Escalation.REGION


def test_punctuality_and_unit_figures(city, time_machine):
    time_machine.move_to(MONDAY, tick=False)
    on_time = make_ticket(category_code="equipment_fault")
    late = make_ticket(category_code="equipment_fault")
    overdue = make_ticket(category_code="equipment_fault")
    time_machine.move_to(MONDAY + timedelta(hours=1))
    move(on_time, "in_progress", "resolved")
    time_machine.move_to(MONDAY + timedelta(days=5))
    move(late, "in_progress", "resolved")
    now = MONDAY + timedelta(days=5)

    def matching(kind):
        return set(Ticket.objects.filter(punctuality_q(kind, now=now)).values_list("pk", flat=True))

    assert matching("on_time") == {on_time.pk}
    assert matching("late") == {late.pk}
    assert matching("overdue") == {overdue.pk}
    unit = unit_figures(Unit.objects.all()).get(region__code="320213")
    assert (unit.volume, unit.resolved_count, unit.on_time_count) == (3, 2, 1)
    assert unit.avg_respond == (timedelta(hours=1) + timedelta(days=5)) / 2


def test_a_reopened_ticket_is_given_new_deadlines_counted_from_the_reopening(city, time_machine):
    time_machine.move_to(MONDAY, tick=False)
    ticket = make_ticket(category_code="equipment_fault")  # 2 working days: Wed 18 March 23:59:59
    ticket = move(ticket, "in_progress", "resolved")
    first_due = ticket.resolve_by
    # Reopened on Friday 20 March, past the first deadline: two working days from then skip the weekend.
    time_machine.move_to(datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI), tick=False)
    ticket = move(ticket, "reopened")
    assert first_due == datetime(2026, 3, 18, 23, 59, 59, tzinfo=SHANGHAI)
    assert ticket.resolve_by == datetime(2026, 3, 24, 23, 59, 59, tzinfo=SHANGHAI)
    assert ticket.respond_by == datetime(2026, 3, 20, 12, 0, tzinfo=SHANGHAI)
    assert ticket.escalate_city_at == ticket.resolve_by + timedelta(hours=ticket.category.city_after_hours)
    reopened_at = datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI)
    assert not Ticket.objects.filter(punctuality_q("overdue", now=reopened_at)).exists()
    assert supervise_tickets() == {"dispatched": 0, "warned": 0, "region": 0, "city": 0, "closed": 0}
    ticket.refresh_from_db()
    assert ticket.escalation == Escalation.NONE
    time_machine.move_to(datetime(2026, 3, 25, 0, 0, 1, tzinfo=SHANGHAI))
    assert supervise_tickets()["region"] == 1  # the new deadline is supervised as the first was


def test_a_ticket_whose_dispatch_never_ran_is_routed_by_the_next_pass(city, time_machine):
    time_machine.move_to(MONDAY, tick=False)
    ticket = make_ticket(dispatch=False)  # its dispatch after commit was lost (no callbacks run here)
    assert supervise_tickets()["dispatched"] == 0  # still within its grace
    time_machine.move_to(MONDAY + timedelta(minutes=3), tick=False)
    assert supervise_tickets()["dispatched"] == 1
    ticket.refresh_from_db()
    assert ticket.state == "dispatched" and ticket.unit is not None
