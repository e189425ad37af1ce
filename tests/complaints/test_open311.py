"""Open311 GeoReport v2 (SPEC §7): discovery, services, definitions, requests GET and POST with an
api_key, a request by id, errors as Open311's array, and the key command."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.complaints import services
from apps.complaints.models import Open311Key, Ticket
from tests.factories import LotFactory
from tests.factories_complaints import make_ticket, move

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"


def _open311_error(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"code", "description"} and body[0]["code"] == status
    assert body[0]["description"]
    return body[0]


@pytest.fixture
def api_key(city):
    _key, plain = services.open311_key_issue(name="城市大脑")
    return plain


def test_discovery_names_the_v2_endpoint(client, city):
    body = client.get(f"{BASE}/discovery.json").json()
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["application/json"]
    assert {"changeset", "contact", "key_service"} <= set(body)


def test_services_are_our_categories_with_definitions(client, city):
    services_list = client.get(f"{BASE}/services.json").json()
    assert [s["service_code"] for s in services_list][:2] == ["fee_dispute", "wrong_charge"]
    first = services_list[0]
    assert set(first) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert first["service_name"] == "收费争议" and first["metadata"] is True and first["type"] == "realtime"
    definition = client.get(f"{BASE}/services/fee_dispute.json").json()
    assert definition["service_code"] == "fee_dispute"
    assert [a["code"] for a in definition["attributes"]] == ["lot_code", "plate"]
    _open311_error(client.get(f"{BASE}/services/nope.json"), 404)


def test_a_round_trip_post_then_get(client, city, api_key, django_capture_on_commit_callbacks):
    lot = LotFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}/requests.json", {
            "api_key": api_key, "service_code": "equipment_fault", "lat": "31.571", "long": "120.301",
            "description": "道闸坏了，车主电话13900001111，车牌苏B12345", "attribute[lot_code]": lot.code,
            "attribute[plate]": "苏B12345", "first_name": "三", "last_name": "张", "phone": "13900001111"})
    assert response.status_code == 201, response.content
    (created,) = response.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    ticket = Ticket.objects.get(ticket_no=created["service_request_id"])
    assert (ticket.channel, ticket.lot, ticket.plate, ticket.caller_name) == ("open311", lot, "苏B12345", "张 三")
    assert ticket.open311_key.name == "城市大脑"
    (shown,) = client.get(f"{BASE}/requests/{ticket.ticket_no}.json").json()
    assert shown["service_request_id"] == ticket.ticket_no and shown["status"] == "open"
    assert shown["service_code"] == "equipment_fault" and shown["agency_responsible"] == "梁溪区停车管理办公室"
    assert shown["address_id"] == lot.code and shown["lat"] == pytest.approx(31.571)
    assert shown["expected_datetime"].endswith("+08:00")
    text = json.dumps(shown, ensure_ascii=False)
    for secret in ("13900001111", "苏B12345", "张"):
        assert secret not in text
    assert "道闸坏了" in shown["description"]
    listed = client.get(f"{BASE}/requests.json").json()
    assert [r["service_request_id"] for r in listed] == [ticket.ticket_no]


def test_posting_needs_a_valid_api_key(client, city, api_key):
    body = {"service_code": "other", "lat": "31.5", "long": "120.3", "description": "x"}
    _open311_error(client.post(f"{BASE}/requests.json", body), 403)
    _open311_error(client.post(f"{BASE}/requests.json", {**body, "api_key": "o311_wrong"}), 403)
    key = Open311Key.objects.get()
    services.open311_key_revoke(key=key, actor=None)
    _open311_error(client.post(f"{BASE}/requests.json", {**body, "api_key": api_key}), 403)
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(("change", "status"), [
    ({"service_code": ""}, 400),
    ({"service_code": "nope"}, 404),
    ({"lat": "", "long": ""}, 400),
    ({"long": ""}, 400),
    ({"lat": "north"}, 400),
    ({"description": ""}, 400),
    ({"phone": "123"}, 400),
    ({"attribute[lot_code]": "NO-SUCH"}, 400),
    ({"jurisdiction_id": "suzhou.gov.cn"}, 404),
], ids=str)
def test_bad_posts_answer_open311_errors_and_save_nothing(client, city, api_key, change, status):
    body = {"api_key": api_key, "service_code": "other", "lat": "31.5", "long": "120.3", "description": "路边占道"}
    _open311_error(client.post(f"{BASE}/requests.json", {**body, **change}), status)
    assert not Ticket.objects.exists()


def test_request_filters(client, city):
    old = make_ticket(category_code="suggestion")
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=120))
    open_one = make_ticket(category_code="equipment_fault")
    closed_one = move(make_ticket(category_code="fee_dispute"), "in_progress", "resolved")

    def ids(**params):
        response = client.get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content
        return {r["service_request_id"] for r in response.json()}

    assert ids() == {open_one.ticket_no, closed_one.ticket_no}  # the last 90 days by default
    assert ids(status="open") == {open_one.ticket_no}
    assert ids(status="closed") == {closed_one.ticket_no}
    assert ids(service_code="fee_dispute,suggestion") == {closed_one.ticket_no}
    since = (timezone.now() - timedelta(days=200)).isoformat()
    assert ids(start_date=since, service_code="suggestion") == {old.ticket_no}
    until = (timezone.now() - timedelta(days=100)).isoformat()
    assert ids(start_date=since, end_date=until) == {old.ticket_no}
    assert ids(service_request_id=f"{old.ticket_no},{open_one.ticket_no}") == {old.ticket_no, open_one.ticket_no}
    _open311_error(client.get(f"{BASE}/requests.json", {"status": "pending"}), 400)
    _open311_error(client.get(f"{BASE}/requests.json", {"start_date": "2026-03-01T00:00:00"}), 400)
    _open311_error(client.get(f"{BASE}/requests.json", {"start_date": until, "end_date": since}), 400)
    _open311_error(client.get(f"{BASE}/requests.json", {"colour": "red"}), 400)
    _open311_error(client.get(f"{BASE}/requests/RX20200101-0001.json"), 404)
    _open311_error(client.get(f"{BASE}/nothing-here.json"), 404)


def test_the_command_prints_one_json_line_with_a_working_key(client, city, capsys):
    call_command("issue_open311_key", "--name", "高德地图")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    payload = json.loads(out)
    assert set(payload) == {"api_key"}
    key = Open311Key.objects.get()
    assert key.name == "高德地图" and payload["api_key"] not in key.key_hash
    response = client.post(f"{BASE}/requests.json", {"api_key": payload["api_key"], "service_code": "other",
                                                     "address_string": "中山路 1 号", "description": "路面坑洼"})
    assert response.status_code == 201, response.content


def test_a_json_body_that_is_not_an_object_is_refused(client, city, api_key):
    response = client.post(f"{BASE}/requests.json", data="[1, 2]", content_type="application/json")
    _open311_error(response, 400)
    body = {"api_key": api_key, "service_code": "other", "address_string": "中山路", "description": "路灯坏了"}
    response = client.post(f"{BASE}/requests.json", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201


def test_the_request_list_costs_the_same_queries_for_more_rows(client, city):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_ticket()
    client.get(f"{BASE}/requests.json")
    with CaptureQueriesContext(connection) as few:
        client.get(f"{BASE}/requests.json")
    for _ in range(6):
        move(make_ticket(), "in_progress")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(f"{BASE}/requests.json").json()) == 7
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+08:00",  # no UTC equivalent to compare with or store
    "2026-01-01T00:00:00+99:00",  # an offset a datetime cannot carry
    "2026-13-01T00:00:00+08:00",
])
def test_a_time_filter_that_is_no_time_is_a_400_not_a_500(client, city, value):
    make_ticket()
    for name in ("start_date", "end_date"):
        error = _open311_error(client.get("/open311/v2/requests.json", {name: value}), 400)
        assert name in error["description"]
