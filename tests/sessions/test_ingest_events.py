"""SPEC §3.2 through the API: per-event results, rejections, duplicates, heartbeats."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.lots.models import Device, ParkingLot
from apps.sessions.models import IngestEvent, ParkingSession
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import BerthFactory, entry_event, event, exit_event, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def lot():
    return LotFactory()


@pytest.fixture
def post(api_client, issued):
    device, secret = issued

    def send(*events):
        response = signed_post(api_client, device, secret, {"events": list(events)})
        assert response.status_code == 200, response.content
        return response.json()

    return send


def _only_error(body):
    (result,) = body["results"]
    assert result["status"] == "rejected"
    return result["error"]


def test_results_come_one_per_event_in_order(post, lot):
    events = [entry_event(lot, f"苏B1000{i}") for i in range(5)]
    body = post(*events)
    assert [r["event_id"] for r in body["results"]] == [e["event_id"] for e in events]
    assert body == {"accepted": 5, "duplicates": 0, "rejected": 0, "results": body["results"]}
    assert all(r == {"event_id": e["event_id"], "status": "accepted"} for r, e in zip(body["results"], events,
                                                                                       strict=True))


def test_lot_codes_are_read_in_upper_case(post, lot):
    assert post(entry_event(lot.code.lower(), "苏B12345"))["accepted"] == 1


def test_a_key_reports_only_for_its_lots(post):
    other = LotFactory()
    error = _only_error(post(entry_event(other, "苏B12345")))
    assert error["code"] == "lot_not_allowed"
    assert error["details"]["lot_code"] == other.code


def test_an_unknown_lot_is_not_allowed_either(post):
    assert _only_error(post(entry_event("NO-SUCH-LOT", "苏B12345")))["code"] == "lot_not_allowed"


def test_an_event_more_than_five_minutes_ahead_is_clock_skew(post, lot):
    ahead = timezone.now() + timedelta(minutes=5, seconds=30)
    assert _only_error(post(entry_event(lot, "苏B12345", at=ahead)))["code"] == "clock_skew"
    body = post(entry_event(lot, "苏B12345", at=timezone.now() + timedelta(minutes=4)))
    assert body["accepted"] == 1


@pytest.mark.parametrize("value", ["2026-03-17T09:42:44", "2026-03-17", "yesterday", 1700000000, None])
def test_a_time_without_an_offset_is_rejected(post, lot, value):
    raw = entry_event(lot, "苏B12345")
    raw["occurred_at"] = value
    error = _only_error(post(raw))
    assert error["code"] == "invalid_time"
    assert error["details"]["field"] == "occurred_at"


def test_an_invalid_plate_is_rejected(post, lot):
    error = _only_error(post(entry_event(lot, "苏BI2345")))
    assert error["code"] == "invalid_plate"


@pytest.mark.parametrize(("change", "field"), [
    ({"event_id": ""}, "event_id"),
    ({"event_id": "x" * 65}, "event_id"),
    ({"event_id": 12}, "event_id"),
    ({"type": "teleport"}, "type"),
    ({"lot_code": None}, "lot_code"),
    ({"plate": None}, "plate"),
    ({"plate_color": "purple"}, "plate_color"),
    ({"vehicle_class": "huge"}, "vehicle_class"),
    ({"gate": "g" * 65}, "gate"),
])
def test_malformed_fields_are_invalid_event(post, lot, change, field):
    raw = {**entry_event(lot, "苏B12345"), **change}
    error = _only_error(post(raw))
    assert error["code"] == "invalid_event"
    assert error["details"]["field"] == field


def test_a_non_object_event_is_rejected_without_an_event_id(post):
    body = post("not an event")
    assert body["results"][0]["event_id"] is None
    assert body["results"][0]["error"]["code"] == "invalid_event"


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "free_berths"),
    ({"free_berths": -1}, "free_berths"),
    ({"free_berths": True}, "free_berths"),
    ({"free_berths": 5, "total_berths": 4}, "free_berths"),
])
def test_snapshot_counts_are_checked(post, lot, fields, field):
    error = _only_error(post(event(lot, "lot_status", **fields)))
    assert (error["code"], error["details"]["field"]) == ("invalid_event", field)


def test_berth_events_need_a_known_berth(post, lot):
    assert _only_error(post(event(lot, "berth_occupied")))["details"]["field"] == "berth_code"
    error = _only_error(post(event(lot, "berth_occupied", berth_code="NOPE")))
    assert error["code"] == "unknown_berth"
    other_lot_berth = BerthFactory(code="A01")
    assert _only_error(post(event(lot, "berth_vacant", berth_code=other_lot_berth.code)))["code"] == "unknown_berth"


def test_one_bad_event_never_rejects_the_others_and_is_not_stored(post, lot):
    good1, good2 = entry_event(lot, "苏B11111"), entry_event(lot, "苏B22222")
    bad = entry_event(lot, "not a plate")
    body = post(good1, bad, good2)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert set(IngestEvent.objects.values_list("event_id", flat=True)) == {good1["event_id"], good2["event_id"]}
    assert ParkingSession.objects.count() == 2
    # The rejected event can be corrected and sent again with the same id.
    bad["plate"] = "苏B33333"
    assert post(bad)["accepted"] == 1


def test_a_repeated_event_is_a_duplicate_and_changes_nothing(post, lot):
    entry = entry_event(lot, "苏B12345", at=timezone.now() - timedelta(hours=2))
    post(entry)
    free = ParkingLot.objects.get(pk=lot.pk).free_berths
    body = post(entry)
    assert body["results"] == [{"event_id": entry["event_id"], "status": "duplicate"}]
    assert (body["accepted"], body["duplicates"]) == (0, 1)
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == free
    assert ParkingSession.objects.count() == 1


def test_a_duplicate_exit_returns_the_same_session(post, lot):
    post(entry_event(lot, "苏B12345", at=timezone.now() - timedelta(hours=2)))
    exit_ = exit_event(lot, "苏B12345")
    first = post(exit_)["results"][0]
    again = post(exit_)["results"][0]
    assert again["status"] == "duplicate"
    assert again["session"] == first["session"]
    assert ParkingSession.objects.count() == 1


def test_repeats_within_one_batch(post, lot):
    post(entry_event(lot, "苏B12345", at=timezone.now() - timedelta(hours=2)))
    exit_ = exit_event(lot, "苏B12345")
    body = post(exit_, exit_, exit_)
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate", "duplicate"]
    sessions = [r["session"] for r in body["results"]]
    assert sessions[0] == sessions[1] == sessions[2]
    assert IngestEvent.objects.filter(event_id=exit_["event_id"]).count() == 1


def test_event_ids_are_unique_per_lot_not_globally(api_client):
    a, b = LotFactory(), LotFactory()
    device, secret = DeviceFactory.issue(lots=[a, b])
    events = [entry_event(a, "苏B12345", event_id="same-1"), entry_event(b, "苏B12345", event_id="same-1")]
    body = signed_post(api_client, device, secret, {"events": events}).json()
    assert body["accepted"] == 2


def test_the_exit_result_carries_the_session(post, lot):
    entered = timezone.now() - timedelta(hours=2)
    post(entry_event(lot, "苏B12345", at=entered))
    result = post(exit_event(lot, "苏B12345"))["results"][0]
    session = result["session"]
    assert set(session) == {"session_id", "entry_at", "exit_at", "amount_fen", "paid_fen", "due_fen", "release",
                            "release_reason"}
    assert session["entry_at"] == timezone.localtime(entered).isoformat()
    assert session["entry_at"].endswith("+08:00")
    assert session["session_id"] == ParkingSession.objects.get().pk


def test_every_accepted_request_is_a_heartbeat(post, lot, issued):
    device, _ = issued
    assert lot.last_seen_at is None
    post(event(lot, "heartbeat"))
    lot.refresh_from_db()
    device = Device.objects.get(pk=device.pk)
    assert lot.last_seen_at is not None and device.last_seen_at is not None
    assert abs((timezone.now() - lot.last_seen_at).total_seconds()) < 10


def test_a_heartbeat_names_only_the_lots_in_the_batch(api_client):
    a, b = LotFactory(), LotFactory()
    device, secret = DeviceFactory.issue(lots=[a, b])
    signed_post(api_client, device, secret, {"events": [event(a, "heartbeat")]})
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.last_seen_at is not None
    assert b.last_seen_at is None


def test_nothing_of_a_refused_request_is_stored(api_client, lot, issued):
    device, _secret = issued
    signed_post(api_client, device, "wrong", {"events": [entry_event(lot, "苏B12345")]})
    lot.refresh_from_db()
    assert lot.last_seen_at is None
    assert not IngestEvent.objects.exists()


def test_get_is_not_allowed(api_client):
    response = api_client.get("/api/v1/ingest/events")
    assert response.status_code in (401, 405)
    assert "error" in response.json()


# -- times outside what can be stored or priced ------------------------------------------------------

def _with_time(lot, value, plate="苏B12345"):
    raw = entry_event(lot, plate)
    raw["occurred_at"] = value
    return raw


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+08:00",  # no UTC equivalent (year 0)
    "9999-12-31T20:00:00-08:00",  # no UTC equivalent (year 10000)
    "0001-01-01T08:00:00+08:00",
    "1400-05-01T08:00:00+08:00",
    "1990-01-01T08:00:00+08:00",
])
def test_a_time_outside_the_accepted_window_is_invalid_time_and_the_others_go_on(post, lot, value):
    body = post(_with_time(lot, value), entry_event(lot, "苏B54321"))
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted"]
    error = body["results"][0]["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_time", "occurred_at")
    assert list(ParkingSession.objects.values_list("plate", flat=True)) == ["苏B54321"]


def test_an_event_older_than_the_maximum_age_is_refused(post, lot):
    from apps.sessions.events import INGEST_MAX_AGE

    now = timezone.now()
    late = post(entry_event(lot, "苏B12345", at=now - INGEST_MAX_AGE - timedelta(minutes=1)))
    error = _only_error(late)
    assert (error["code"], error["details"]["max_age_days"]) == ("invalid_time", 30)
    assert post(entry_event(lot, "苏B12345", at=now - INGEST_MAX_AGE + timedelta(minutes=1)))["accepted"] == 1


def test_clock_skew_tells_the_server_time_in_local_time(post, lot):
    error = _only_error(post(entry_event(lot, "苏B12345", at=timezone.now() + timedelta(hours=1))))
    server_time = error["details"]["server_time"]
    assert server_time.endswith("+08:00")
    assert abs((datetime.fromisoformat(server_time) - timezone.now()).total_seconds()) < 60


# -- control characters ------------------------------------------------------------------------------

@pytest.fixture
def post_raw(api_client, issued):
    """Post events encoded with every non-ASCII character escaped (so lone surrogates can be sent)."""
    device, secret = issued

    def send(*events):
        response = signed_post(api_client, device, secret, json.dumps({"events": list(events)}).encode())
        assert response.status_code == 200, response.content
        return response.json()

    return send


CONTROL_CHARACTER_CASES = [
    ({"event_id": "a\x00b"}, "event_id"),
    ({"lot_code": "\x00"}, "lot_code"),
    ({"gate": "a\u0000b"}, "gate"),
    ({"image_ref": "cap\x7f"}, "image_ref"),
    ({"ticket_id": "T\x01"}, "ticket_id"),
    ({"berth_code": "B\x1f"}, "berth_code"),
    ({"plate": "苏B12345\x00"}, "plate"),
    ({"plate_color": "blue\x00"}, "plate_color"),
    ({"occurred_at": "2026-03-17T10:00:00\x00+08:00"}, "occurred_at"),
    ({"gate": "\ud800"}, "gate"),  # a lone surrogate: neither PostgreSQL nor a UTF-8 response can carry it
    ({"gate": "东门\x85"}, "gate"),  # C1
    ({"vendor": {"note": ["ok", "a\x00"]}}, "vendor.note[1]"),
    ({"a\x00b": 1}, "a\\x00b"),
]


@pytest.mark.parametrize(("change", "field"), CONTROL_CHARACTER_CASES)
def test_control_characters_in_any_string_are_invalid_event_naming_the_field(post_raw, lot, change, field):
    good = entry_event(lot, "苏B54321")
    body = post_raw({**entry_event(lot, "苏B12345"), **change}, good)
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted"]
    error = body["results"][0]["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_event", field)
    assert list(IngestEvent.objects.values_list("event_id", flat=True)) == [good["event_id"]]


def test_an_event_id_with_control_characters_is_not_echoed(post_raw, lot):
    body = post_raw(entry_event(lot, "苏B12345", event_id="a\x00b"), entry_event(lot, "苏B12345", event_id="\udc80"))
    assert [r["event_id"] for r in body["results"]] == [None, None]


def test_ordinary_text_in_extra_fields_is_kept(post, lot):
    raw = entry_event(lot, "苏B12345", gate="东门 2号岗", vendor={"camera": {"id": "C-1", "angles": [1, 2]}})
    assert post(raw)["accepted"] == 1
    assert IngestEvent.objects.get().payload["vendor"] == {"camera": {"id": "C-1", "angles": [1, 2]}}


def test_an_event_nested_too_deep_is_refused(post, lot):
    from apps.sessions.events import NESTING_MAX

    deep: object = "x"
    for _ in range(NESTING_MAX):
        deep = [deep]
    error = _only_error(post(entry_event(lot, "苏B12345", vendor=deep)))
    assert error["code"] == "invalid_event"
    assert error["details"]["field"].startswith("vendor[0]")


@pytest.mark.postgres
def test_postgresql_stores_or_refuses_every_event_of_a_hostile_batch(post_raw, lot):
    """On PostgreSQL a NUL in text or JSONB, a time before year 1 in UTC, or an amount past 32 bits
    used to fail the whole batch with a 500 (and keep failing on every retry)."""
    good = entry_event(lot, "苏B54321")
    hostile = [{**entry_event(lot, "苏B12345"), **change} for change, _field in CONTROL_CHARACTER_CASES]
    hostile += [_with_time(lot, "1400-05-01T08:00:00+08:00", "苏B11111"),
                _with_time(lot, "0001-01-01T00:00:00+08:00", "苏B22222")]
    body = post_raw(*hostile, good)
    assert body["rejected"] == len(hostile) and body["accepted"] == 1
    assert list(IngestEvent.objects.values_list("event_id", flat=True)) == [good["event_id"]]


def test_a_body_nested_deeper_than_the_parser_goes_is_invalid_json(api_client, issued):
    device, secret = issued
    raw = b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    response = signed_post(api_client, device, secret, raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


# -- numbers no database can store -------------------------------------------------------------------

def _raw_batch(*events: bytes) -> bytes:
    """A batch body written by hand, so it can carry number literals json.dumps never writes."""
    return b'{"events": [' + b", ".join(events) + b"]}"


def _encoded(raw: dict, **literals: str) -> bytes:
    """``raw`` as JSON with each of ``literals`` spliced in as a bare number literal."""
    text = json.dumps(raw, ensure_ascii=False)[:-1]
    for name, literal in literals.items():
        text += f', "{name}": {literal}'
    return (text + "}").encode("utf-8")


UNREPRESENTABLE_CASES = [
    ({"vendor_score": "1e999"}, "vendor_score"),
    ({"vendor_score": "-1e999"}, "vendor_score"),
    ({"vendor": '{"camera": {"angles": [1, 2, 1e400]}}'}, "vendor.camera.angles[2]"),
    ({"free_berths": "1e999"}, "free_berths"),
    ({"count": "1" + "0" * 5000}, "count"),  # more digits than Python reads as an integer
]


@pytest.mark.parametrize(("literals", "field"), UNREPRESENTABLE_CASES)
def test_an_unrepresentable_number_rejects_only_its_event_naming_the_field(api_client, issued, lot,
                                                                          literals, field):
    device, secret = issued
    good1, good2 = entry_event(lot, "苏B11111"), entry_event(lot, "苏B22222")
    bad = entry_event(lot, "苏B33333")
    body = _raw_batch(_encoded(good1), _encoded(bad, **literals), _encoded(good2))
    response = signed_post(api_client, device, secret, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected", "accepted"]
    error = answer["results"][1]["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_number", field)
    assert answer["results"][1]["event_id"] == bad["event_id"]
    assert sorted(IngestEvent.objects.values_list("event_id", flat=True)) == sorted(
        [good1["event_id"], good2["event_id"]])

    # Delivered again, the batch does not fail either: the good events are duplicates now.
    again = signed_post(api_client, device, secret, body)
    assert again.status_code == 200, again.content
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "rejected", "duplicate"]


def test_large_but_finite_numbers_in_extra_fields_are_kept(post_raw, lot):
    raw = entry_event(lot, "苏B12345", vendor={"big": 1e308, "small": -1e-300, "int": 10**40})
    assert post_raw(raw)["accepted"] == 1
    stored = IngestEvent.objects.get().payload["vendor"]
    # jsonb keeps numbers as decimals: 1e308 may come back as the integer it equals.
    assert (float(stored["big"]), float(stored["small"]), stored["int"]) == (1e308, -1e-300, 10**40)


# -- an empty plate ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["entry", "exit", "berth_occupied", "berth_vacant"])
@pytest.mark.parametrize("plate", ["", "  ", "·-"])
def test_an_empty_plate_is_an_invalid_plate_not_a_missing_one(post, lot, kind, plate):
    BerthFactory(lot=lot, code="A01")
    raw = event(lot, kind, plate=plate, ticket_id="T-1", berth_code="A01")
    error = _only_error(post(raw))
    assert (error["code"], error["details"]["field"]) == ("invalid_plate", "plate")


def test_a_null_plate_with_a_ticket_is_still_fine(post, lot):
    assert post(entry_event(lot, None, ticket_id="T-1"))["accepted"] == 1
