"""One wording a rule (apps.common.messages), whoever checks it: the public API's parameters (tests/lots/test_api.py),
an ingested event's fields and an inventory import's cells."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import translation

from apps.common import messages
from apps.lots import inventory
from apps.realtime.consumers import ClientMessageError, parse_bbox
from apps.sessions.errors import EventRejected
from apps.sessions.events import parse_event

NOW = datetime(2026, 3, 17, 1, 0, tzinfo=UTC)
EVENT = {"event_id": "e1", "type": "lot_status", "lot_code": "LX-1", "occurred_at": "2026-03-17T09:00:00+08:00",
         "free_berths": 3}


def _rejected(**changes) -> str:
    raw = {key: value for key, value in {**EVENT, **changes}.items() if value is not None}
    with pytest.raises(EventRejected) as caught:
        parse_event(raw, index=0, now=NOW, max_future_s=300)
    return caught.value.message


@pytest.mark.parametrize(("changes", "message"), [
    ({"event_id": None}, "event_id: 必填"),
    ({"event_id": 7}, "event_id: 须为字符串"),
    ({"event_id": "x" * 65}, "event_id: 不能超过 64 个字符"),
    ({"free_berths": -1}, "free_berths: 须为不小于 0 的整数"),
    ({"free_berths": None}, "free_berths: 必填"),
    ({"type": "teleport"}, "type: 须为 entry、exit、berth_occupied、berth_vacant、lot_status、heartbeat 之一"),
    ({"occurred_at": "yesterday"}, "occurred_at: 须为 ISO 8601 时间，如 2026-03-17T09:42:44+08:00"),
    ({"occurred_at": "2026-03-17T09:00:00"}, "occurred_at: 须带时区偏移，如 2026-03-17T09:42:44+08:00"),
    ({"type": "entry", "plate": "苏B12345", "vehicle_class": "bus"}, "vehicle_class: 须为 small、large 之一"),
])
def test_an_event_field_is_refused_in_the_apis_words(changes, message):
    assert _rejected(**changes) == message


@pytest.mark.parametrize(("check", "raw", "message"), [
    (inventory._int, "many", "须为不小于 0 的整数"),
    (inventory._int, "-3", "须为不小于 0 的整数"),
    (inventory._int, "", "必填"),
    (inventory._float, "north", "须为数字"),
])
def test_an_import_cell_is_refused_in_the_same_words(check, raw, message):
    with pytest.raises(inventory._RowProblem) as caught:
        check("total_berths", raw)
    assert caught.value.message == message


@pytest.mark.parametrize(("bbox", "message"), [
    ([120.2, 31.5, 120.4], "bbox: 须为 [minLon, minLat, maxLon, maxLat] 四个数字"),
    ([120.2, 31.5, 190, 31.7], "bbox: 经度须为 -180 到 180 之间的数字"),
    ([120.2, -91, 120.4, 31.7], "bbox: 纬度须为 -90 到 90 之间的数字"),
    ([120.2, 31.7, 120.4, 31.5], "bbox: minLat 不能大于 maxLat"),
])
def test_a_websocket_bbox_is_refused_in_the_lot_filters_words(bbox, message):
    # The lot list's bbox filter says the same for the same rules (tests/lots/test_api.py covers its side).
    with pytest.raises(ClientMessageError) as caught:
        parse_bbox(bbox)
    assert caught.value.message == message


def test_a_filled_message_is_translated_when_read_not_when_made():
    message = messages.integer_rule(1, 100)
    with translation.override("en"):
        assert str(message) == "must be an integer from 1 to 100"
    with translation.override("zh-hans"):
        assert str(message) == "须为 1 到 100 之间的整数"
