"""The demo city has tickets in every state, some overdue and escalated (issue 8 item 9)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.complaints import workflow
from apps.complaints.models import Escalation, Ticket
from apps.complaints.selectors import punctuality_q
from apps.demo.seed import demo_city_seed

pytestmark = pytest.mark.django_db


def test_the_demo_city_has_tickets_in_every_state_some_overdue(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        city = demo_city_seed(lots=30, seed=7)
    assert city.tickets == Ticket.objects.count() >= 40
    states = set(Ticket.objects.values_list("state", flat=True))
    # received lasts only until the commit routes the ticket
    assert states == {code for code, _label in workflow.STATES} - {workflow.RECEIVED}
    assert Ticket.objects.filter(punctuality_q("overdue", now=timezone.now())).exists()
    assert Ticket.objects.filter(escalation__gte=Escalation.REGION).exists()
    assert Ticket.objects.filter(unit__isnull=True).count() == 0
