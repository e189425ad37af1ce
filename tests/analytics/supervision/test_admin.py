"""Supervision in the admin: a 梁溪 officer sees and works 梁溪 cases and never a 滨湖 one (list,
filters, by id, the case page's buttons, list actions); evidence reads in Chinese on the city's
clock; the rules are read by district staff and changed only by the city, taking effect at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.analytics.models import SupervisionCase
from apps.analytics.supervision import workflow
from apps.lots.models import LotOutage

from .conftest import T, cases, rule, run

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:analytics_supervisioncase_changelist")
H = timedelta(hours=1)


@pytest.fixture
def two_cases(liangxi_lot, binhu_lot):
    for lot in (liangxi_lot, binhu_lot):
        LotOutage.objects.create(lot=lot, started_at=T - 2 * H)
    run("outage", T)
    return cases(liangxi_lot, "outage")[0], cases(binhu_lot, "outage")[0]


def _change(case):
    return reverse("admin:analytics_supervisioncase_change", args=[case.pk])


def _act(case):
    return reverse("admin:analytics_supervisioncase_act", args=[case.pk])


def test_an_officer_lists_only_the_cases_of_their_district(client, officer, two_cases):
    mine, theirs = two_cases
    client.force_login(officer)
    page = client.get(CHANGELIST).content.decode()
    assert "崇安寺地下停车场" in page and "蠡湖公园停车场" not in page
    assert "长时间断网" in page and "仍在持续" in page and "梁溪区" in page
    assert "滨湖区" not in page  # not even in the region filter
    SupervisionCase.objects.filter(pk=mine.pk).update(due_at=timezone.now() + 24 * H)
    for query in ("?overdue=no", "?cause=ongoing", f"?region={mine.lot.region_id}", f"?rule__id__exact={mine.rule_id}"):
        listed = client.get(CHANGELIST + query).context["cl"].result_list
        assert [c.pk for c in listed] == [mine.pk], query
    assert list(client.get(CHANGELIST + f"?region={theirs.lot.region_id}").context["cl"].result_list) == []
    SupervisionCase.objects.filter(pk=mine.pk).update(due_at=T)
    assert [c.pk for c in client.get(CHANGELIST + "?overdue=yes").context["cl"].result_list] == [mine.pk]


def test_an_officer_cannot_open_or_work_another_district_s_case_by_id(client, officer, two_cases):
    _mine, theirs = two_cases
    client.force_login(officer)
    response = client.get(_change(theirs))
    assert response.status_code == 302 and "蠡湖公园停车场" not in client.get(response.url).content.decode()
    assert client.post(_act(theirs), {"target": "dismissed", "note": "误报"}).status_code == 404
    assert client.post(_act(theirs), {"target": "assign", "assignee": officer.pk}).status_code == 404
    client.post(CHANGELIST, {"action": "dismiss_cases", "_selected_action": [theirs.pk], "note": "误报"})
    client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.state == workflow.OPEN and theirs.assignee is None and theirs.changes.count() == 1


def test_the_case_page_shows_evidence_on_the_city_s_clock_and_works_with_buttons(client, officer, staff_factory,
                                                                                  two_cases):
    mine, _theirs = two_cases
    worker = staff_factory("region", "320213")
    client.force_login(officer)
    page = client.get(_change(mine)).content.decode()
    assert "离线开始" in page and "2026-11-30 08:00:00" in page and "已离线（分钟）" in page and "120" in page
    assert "阈值：离线持续超过（分钟）" in page and 'value="in_progress"' not in page  # not yet assigned
    assert f'<option value="{worker.pk}">' in page and 'value="dismissed"' in page

    assert client.post(_act(mine), {"target": "assign", "assignee": worker.pk, "note": "请核查"}).status_code == 302
    mine.refresh_from_db()
    assert mine.state == workflow.ASSIGNED and mine.assignee == worker
    client.post(_act(mine), {"target": "closed", "note": ""})  # refused: the outage goes on
    mine.refresh_from_db()
    assert mine.state == workflow.ASSIGNED
    client.post(_act(mine), {"target": "in_progress", "note": "已电话联系"})
    mine.refresh_from_db()
    assert mine.state == workflow.IN_PROGRESS
    page = client.get(_change(mine)).content.decode()
    assert "已电话联系" in page and officer.username in page


def test_list_actions_move_the_selected_cases_the_workflow_allows(client, officer, two_cases):
    mine, _theirs = two_cases
    client.force_login(officer)
    client.post(CHANGELIST, {"action": "dismiss_cases", "_selected_action": [mine.pk], "note": ""})
    mine.refresh_from_db()
    assert mine.state == workflow.OPEN  # a dismissal needs its reason
    client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [mine.pk]})
    client.post(CHANGELIST, {"action": "start_work", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.state == workflow.IN_PROGRESS and mine.assignee == officer


def test_rules_are_read_by_district_staff_and_changed_only_by_the_city(client, officer, staff_factory, liangxi_lot):
    url = reverse("admin:analytics_supervisionrule_change", args=[rule("outage").pk])
    client.force_login(officer)
    assert client.get(reverse("admin:analytics_supervisionrule_changelist")).status_code == 200
    data = {"enabled": "on", "window_minutes": 240, "threshold": 0, "ratio": 0, "minimum": 0, "history_days": 28,
            "due_hours": 24, "quiet_hours": 24}
    assert client.post(url, data).status_code == 403
    assert rule("outage").window_minutes == 60

    client.force_login(staff_factory("city"))
    assert client.post(url, data).status_code == 302
    assert rule("outage").window_minutes == 240
    LotOutage.objects.create(lot=liangxi_lot, started_at=T - 2 * H)
    assert run("outage", T)["raised"] == 0  # two hours is no longer long enough
    assert client.post(url, {**data, "ratio": 2}).status_code == 200  # a share above 1 is refused on the form
    assert rule("outage").ratio == 0


def test_an_operator_s_staff_see_only_their_own_lots_cases(client, staff_factory, two_cases):
    mine, theirs = two_cases
    operator_staff = staff_factory("operator", mine.lot.operator)
    client.force_login(operator_staff)
    assert [c.pk for c in client.get(CHANGELIST).context["cl"].result_list] == [mine.pk]
    assert client.post(_act(theirs), {"target": "dismissed", "note": "误报"}).status_code == 404
    assert client.post(_act(mine), {"target": "dismissed", "note": "停业"}).status_code == 302
    mine.refresh_from_db()
    assert mine.state == workflow.DISMISSED and mine.last_change.actor == operator_staff
