"""Two supervision passes at once (beat and a manual run, or two beat processes during a deploy)
raise one case for one episode: the rule's row lock orders them and the partial unique constraint
would drop a second insert anyway. On PostgreSQL with real threads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.analytics.models import CaseChange, SupervisionCase
from apps.analytics.supervision import engine
from apps.lots.models import LotOutage
from apps.regions.models import Region
from tests.factories import LotFactory
from tests.threads import run_together

from .conftest import T, rule

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_passes_at_once_raise_one_case_per_episode(city):
    lots = [LotFactory(region=Region.objects.get(code="320213")) for _ in range(3)]
    for lot in lots:
        LotOutage.objects.create(lot=lot, started_at=T - timedelta(hours=2))
    outage = rule("outage")
    results = run_together([lambda k=k: engine.rule_run(rule=outage, now=T + timedelta(seconds=k)) for k in range(4)])
    assert sum(r["raised"] for r in results) == 3
    assert SupervisionCase.objects.filter(ended_at__isnull=True).count() == 3
    assert CaseChange.objects.filter(kind="raised").count() == 3
