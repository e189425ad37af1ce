"""The staff ticket API uses the admin's scope: a 滨湖 officer never sees a 梁溪 ticket, by list,
search or number; filters answer supervisors' questions; the list's queries don't grow with rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.complaints.models import Ticket
from apps.regions.models import Region
from tests.factories import LotFactory, OperatorFactory, UserFactory
from tests.factories_complaints import PHONE, make_ticket, move

pytestmark = pytest.mark.django_db

LIST = "/api/v1/staff/tickets/"


@pytest.fixture
def tickets(city):
    liangxi = make_ticket(lot=LotFactory(region=Region.objects.get(code="320213")), plate="苏B12345")
    binhu = make_ticket(lot=LotFactory(region=Region.objects.get(code="320211")), phone="13800002222")
    return {"liangxi": liangxi, "binhu": binhu}


def _numbers(response):
    assert response.status_code == 200, response.content
    return {row["ticket_no"] for row in response.json()["results"]}


def test_a_binhu_officer_never_sees_a_liangxi_ticket(api_client, staff_factory, tickets):
    api_client.force_authenticate(staff_factory("region", "320211"))
    assert _numbers(api_client.get(LIST)) == {tickets["binhu"].ticket_no}
    assert _numbers(api_client.get(LIST, {"q": tickets["liangxi"].ticket_no})) == set()
    assert _numbers(api_client.get(LIST, {"q": "苏B12345"})) == set()
    assert _numbers(api_client.get(LIST, {"region": "320213"})) == set()
    response = api_client.get(f"{LIST}{tickets['liangxi'].ticket_no}/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    mine = api_client.get(f"{LIST}{tickets['binhu'].ticket_no}/").json()
    assert mine["phone"] == "13800002222" and [h["state"] for h in mine["history"]] == ["received", "dispatched"]


def test_city_staff_see_all_and_operators_their_lots(api_client, staff_factory, tickets):
    api_client.force_authenticate(staff_factory("city"))
    assert _numbers(api_client.get(LIST)) == {t.ticket_no for t in tickets.values()}
    operator = OperatorFactory()
    own = make_ticket(lot=LotFactory(operator=operator))
    api_client.force_authenticate(staff_factory("operator", operator))
    assert _numbers(api_client.get(LIST)) == {own.ticket_no}
    api_client.force_authenticate(UserFactory(is_staff=True))  # staff without a scope
    assert _numbers(api_client.get(LIST)) == set()


def test_only_staff_get_in(api_client, tickets):
    assert api_client.get(LIST).status_code == 401
    api_client.force_authenticate(UserFactory())
    assert api_client.get(LIST).status_code == 403


def test_filters_for_supervisors(api_client, staff_factory, tickets):
    api_client.force_authenticate(staff_factory("region", "320213"))
    late = make_ticket(lot=tickets["liangxi"].lot, category_code="fee_dispute")
    Ticket.objects.filter(pk=late.pk).update(resolve_by=timezone.now() - timedelta(hours=1))
    move(tickets["liangxi"], "in_progress", "resolved")
    assert _numbers(api_client.get(LIST, {"punctuality": "overdue"})) == {late.ticket_no}
    assert _numbers(api_client.get(LIST, {"punctuality": "on_time"})) == {tickets["liangxi"].ticket_no}
    assert _numbers(api_client.get(LIST, {"state": "resolved"})) == {tickets["liangxi"].ticket_no}
    assert _numbers(api_client.get(LIST, {"category": "fee_dispute"})) == {late.ticket_no}
    assert _numbers(api_client.get(LIST, {"q": PHONE})) == {late.ticket_no, tickets["liangxi"].ticket_no}
    assert _numbers(api_client.get(LIST, {"q": "苏b·12345"})) == {tickets["liangxi"].ticket_no}
    rows = api_client.get(LIST, {"punctuality": "overdue"}).json()["results"]
    assert rows[0]["punctuality"] == "overdue" and rows[0]["unit"] == "梁溪区停车管理办公室"
    for params, code in (({"state": "lost"}, "invalid"), ({"punctuality": "soon"}, "invalid"),
                         ({"region": "999999"}, "unknown_region"), ({"colour": "red"}, "unknown_parameter")):
        response = api_client.get(LIST, params)
        assert response.status_code == 400 and response.json()["error"]["code"] == code, (params, response.json())


def test_the_list_costs_the_same_queries_for_more_rows(api_client, staff_factory, city):
    api_client.force_authenticate(staff_factory("region", "320213"))
    lot = LotFactory(region=Region.objects.get(code="320213"))
    make_ticket(lot=lot)
    api_client.get(LIST)  # warm the scope and content-type caches
    with CaptureQueriesContext(connection) as few:
        api_client.get(LIST)
    for _ in range(8):
        make_ticket(lot=lot)
    with CaptureQueriesContext(connection) as many:
        assert len(api_client.get(LIST).json()["results"]) == 9
    assert len(many.captured_queries) == len(few.captured_queries)
