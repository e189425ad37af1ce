"""Working days and deadlines: weekends, China's 2026 Spring Festival and National Day weeks with
their make-up Saturdays (chinese-calendar), local days staff add, and deadlines as snapshots."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from apps.complaints import workdays
from apps.complaints.models import Category, LocalDay
from apps.lots.fees import SHANGHAI
from tests.factories_complaints import make_ticket


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 2, 13), True),    # Friday before the Spring Festival
    (date(2026, 2, 14), True),    # Saturday: make-up working day
    (date(2026, 2, 15), False),   # Sunday: the holiday begins
    (date(2026, 2, 17), False),   # Tuesday: 春节
    (date(2026, 2, 23), False),   # Monday: last day of the holiday
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),    # Saturday: make-up working day
    (date(2026, 3, 1), False),    # an ordinary Sunday
    (date(2026, 10, 1), False),   # 国庆
    (date(2026, 10, 7), False),
    (date(2026, 10, 8), True),
    (date(2026, 10, 10), True),   # Saturday: make-up working day
    (date(2026, 10, 11), False),
])
def test_the_national_calendar(day, working):
    assert workdays.is_workday(day) is working


def test_a_year_the_package_does_not_know_falls_back_to_monday_to_friday():
    assert workdays.national_workday(date(2099, 6, 5)) is True  # a Friday
    assert workdays.national_workday(date(2099, 6, 6)) is False


def test_counting_working_days_skips_weekends_and_starts_the_next_day():
    assert workdays.add_working_days(date(2026, 3, 13), 1) == date(2026, 3, 16)  # Friday → Monday
    assert workdays.add_working_days(date(2026, 3, 16), 5) == date(2026, 3, 23)


def test_across_the_spring_festival_and_its_make_up_saturdays():
    # Thursday 12 Feb + 2: Fri 13, Sat 14 (make-up); + 3 jumps the whole holiday to Tue 24 Feb.
    assert workdays.add_working_days(date(2026, 2, 12), 2) == date(2026, 2, 14)
    assert workdays.add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)
    # From Wed 25 Feb: Thu 26, Fri 27, Sat 28 (make-up), Mon 2 Mar.
    assert workdays.add_working_days(date(2026, 2, 25), 4) == date(2026, 3, 2)


def test_across_national_day_and_its_make_up_saturday():
    # Tue 29 Sep + 2: Wed 30 Sep, then 1–7 Oct off, Thu 8 Oct.
    assert workdays.add_working_days(date(2026, 9, 29), 2) == date(2026, 10, 8)
    # + 4: Thu 8, Fri 9, Sat 10 (make-up), Mon 12.
    assert workdays.add_working_days(date(2026, 9, 30), 4) == date(2026, 10, 12)


def test_local_days_override_the_national_calendar():
    local = {date(2026, 3, 16): False, date(2026, 3, 14): True}
    assert workdays.add_working_days(date(2026, 3, 13), 1, local) == date(2026, 3, 14)
    assert workdays.add_working_days(date(2026, 3, 13), 2, local) == date(2026, 3, 17)


@pytest.mark.django_db
def test_deadlines_use_local_days_staff_add():
    received = datetime(2026, 3, 13, 10, 0, tzinfo=SHANGHAI)  # a Friday
    due = workdays.deadlines(received_at=received, respond_hours=2, resolve_working_days=1, warn_hours=24,
                             city_after_hours=24)
    assert due.resolve_by == datetime(2026, 3, 16, 23, 59, 59, tzinfo=SHANGHAI)
    LocalDay.objects.create(date=date(2026, 3, 16), is_workday=False, name="本地停休")
    due = workdays.deadlines(received_at=received, respond_hours=2, resolve_working_days=1, warn_hours=24,
                             city_after_hours=24)
    assert due.respond_by == received + timedelta(hours=2)
    assert due.resolve_by == datetime(2026, 3, 17, 23, 59, 59, tzinfo=SHANGHAI)
    assert due.warn_at == due.resolve_by - timedelta(hours=24)
    assert due.escalate_city_at == due.resolve_by + timedelta(hours=24)


@pytest.mark.django_db
def test_a_ticket_s_deadlines_are_a_snapshot_of_the_sla_when_it_was_categorised(city):
    received = datetime(2026, 2, 12, 9, 30, tzinfo=SHANGHAI)  # Thursday before the Spring Festival
    ticket = make_ticket(category_code="wrong_charge", received_at=received)  # 2 h, 3 working days
    assert ticket.respond_by == received + timedelta(hours=2)
    assert ticket.resolve_by == datetime(2026, 2, 24, 23, 59, 59, tzinfo=SHANGHAI)
    Category.objects.filter(code="wrong_charge").update(resolve_working_days=1, respond_hours=1)
    ticket.refresh_from_db()
    assert ticket.resolve_by == datetime(2026, 2, 24, 23, 59, 59, tzinfo=SHANGHAI)
