"""The money's periodic work is scheduled for Celery beat and the embedded scheduler alike (one
list, ``CELERY_BEAT_SCHEDULE``), and each task runs its service."""

from __future__ import annotations

import importlib

import pytest
from django.conf import settings
from django.utils import timezone

from apps.payments import tasks
from apps.payments.models import ArrearsReminder, Statement
from tests.factories_money import RuleFactory, arrears_of
from tests.factories_payments import Gate, flat_lot

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

MONEY_TASKS = {"charge-agreements": "charge_agreements", "remind-arrears": "remind_arrears",
               "build-statements": "build_statements", "retry-refunds": "retry_refunds"}


def test_the_money_tasks_are_scheduled_and_resolve():
    for key, name in MONEY_TASKS.items():
        entry = settings.CELERY_BEAT_SCHEDULE[key]
        module, _dot, attr = entry["task"].rpartition(".")
        assert getattr(importlib.import_module(module), attr).name == entry["task"] == f"apps.payments.tasks.{name}"


def test_each_task_runs_its_service():
    RuleFactory(after_days=1)
    gate = Gate(flat_lot())
    arrears_of(gate, "苏B12345", days_ago=3)
    assert tasks.remind_arrears()["notices"] == 1 and ArrearsReminder.objects.count() == 1
    counts = tasks.build_statements()
    assert counts["revenue"] == 2 and counts["service_fee"] == 0  # not a government operator
    assert Statement.objects.filter(operator=gate.lot.operator, period_start=timezone.localdate().replace(day=1)
                                    ).exists()
    assert tasks.charge_agreements()["queued"] == 0
    assert tasks.retry_refunds() == 0
