"""Crafted rows for the supervision rules: lots in 梁溪 and 滨湖, events, outages, stays, hour
summaries and samples written directly (the ingest and the summaries are tested elsewhere)."""

from __future__ import annotations

import importlib
import itertools
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps

from apps.analytics.models import SupervisionCase, SupervisionRule
from apps.analytics.supervision import engine
from apps.regions.models import Region
from apps.sessions.models import IngestEvent
from tests.factories import LotFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: a Monday, 10:00 on the city's clock
T = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _seeded_rules(request):
    """The rule rows the migration seeds: a transactional test elsewhere flushes them, so put them back."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
        importlib.import_module("apps.analytics.migrations.0002_supervision").seed_rules(django_apps, None)
    yield


@pytest.fixture
def liangxi_lot(city):
    return LotFactory(region=Region.objects.get(code="320213"), name="崇安寺地下停车场", code="LX-8001",
                      total_berths=100, free_berths=50)


@pytest.fixture
def binhu_lot(city):
    return LotFactory(region=Region.objects.get(code="320211"), name="蠡湖公园停车场", code="BH-8001",
                      total_berths=100, free_berths=50)


@pytest.fixture
def binhu_officer(staff_factory):
    return staff_factory("region", "320211")


def event(lot, type_: str, at: datetime, **payload) -> IngestEvent:
    return IngestEvent.objects.create(
        lot=lot, event_id=f"sv-{next(_ids)}", type=type_, occurred_at=at, received_at=at, batch=uuid.uuid4(),
        payload={"type": type_, "lot_code": lot.code, "occurred_at": at.isoformat(), **payload})


def rule(code: str) -> SupervisionRule:
    return SupervisionRule.objects.get(code=code)


def run(code: str, now: datetime) -> dict:
    return engine.rule_run(rule=rule(code), now=now)


def cases(lot, code: str):
    return list(SupervisionCase.objects.filter(lot=lot, rule__code=code).order_by("raised_at", "pk"))


def assert_lifecycle(lot, code: str, *, raise_at, still_at, cure, cured_at, refault, again_at, ended_at=None):
    """The rule raises once, does not raise again while the episode lasts, records the end when the
    cause ends, and raises anew for a new episode. Returns the two cases."""
    assert run(code, raise_at)["raised"] == 1
    [first] = cases(lot, code)
    assert first.ended_at is None and first.state == "open" and first.raised_at == raise_at
    assert first.evidence["rule"] == code and first.evidence["resolved_at"] is None
    assert first.last_change.kind == "raised"

    assert run(code, still_at) == {"raised": 0, "continuing": 1, "ended": 0}
    assert len(cases(lot, code)) == 1
    first.refresh_from_db()
    assert first.last_detected_at == still_at and first.ended_at is None

    cure()
    assert run(code, cured_at)["ended"] == 1
    first.refresh_from_db()
    assert first.ended_at == (ended_at or cured_at)
    assert datetime.fromisoformat(first.evidence["resolved_at"]) == first.ended_at
    assert first.last_change.kind == "cause_ended"
    assert run(code, cured_at)["raised"] == 0  # an ended episode is not raised again

    refault()
    assert run(code, again_at)["raised"] == 1
    old, new = cases(lot, code)
    assert old.pk == first.pk and new.ended_at is None and new.raised_at == again_at
    return old, new
