"""The ingest request and response (SPEC §3.2): reading the signed body, and the schema's shapes.

The body is parsed here from the exact bytes that were signed, not through DRF's parsers, so that
a malformed body is ``invalid_json``, a batch without events ``invalid_batch`` and one of more than
``INGEST_MAX_EVENTS`` events 413 ``batch_too_large`` (SPEC §3.2: "1–1000 events, at most 1 MiB (else
413)" — the "else" covers both limits). Events are checked one by one by the service: their errors
go into their own RESULT.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from apps.common.api.exceptions import ErrorInfoSerializer

from ..errors import BatchTooLarge, InvalidBatch, InvalidJson
from ..events import INGEST_MAX_AGE, UnreadableNumber
from ..models import EventType, PlateColor, VehicleClass


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def _integer(literal: str) -> int | UnreadableNumber:
    # Python refuses to read an integer of more than 4300 digits; that is one event's fault (its
    # RESULT says invalid_number), not a reason to refuse the whole batch as invalid JSON.
    try:
        return int(literal)
    except ValueError:
        return UnreadableNumber(literal)


def check_body_size(*, content_length: str | None, body: bytes | None = None) -> None:
    """413 ``batch_too_large`` for a body over ``INGEST_MAX_BODY_BYTES``: by the declared length
    before anything reads the body, and by the bytes actually received."""
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(content_length) if content_length else 0
    except ValueError:
        declared = 0
    size = max(declared, len(body) if body is not None else 0)
    if size > limit:
        raise BatchTooLarge(_("请求体超过 %(limit)d 字节") % {"limit": limit}, details={"max_bytes": limit})


def parse_batch(body: bytes) -> list:
    """The ``events`` list of a signed body: a JSON object with 1–INGEST_MAX_EVENTS events."""
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_no_constants, parse_int=_integer)
    except ValueError as exc:  # also UnicodeDecodeError
        raise InvalidJson(_("请求体不是有效的 JSON：%(error)s") % {"error": exc})
    except RecursionError:
        # A megabyte of "[[[[…" is valid JSON nested deeper than the parser goes.
        raise InvalidJson(_("请求体嵌套层数过多"))
    if not isinstance(payload, dict):
        raise InvalidBatch(_("请求体应为 JSON 对象 {\"events\": [...]}"), field="events")
    events = payload.get("events")
    limit = settings.INGEST_MAX_EVENTS
    if not isinstance(events, list) or not events:
        raise InvalidBatch(_("events 应为含 1–%(max)d 个事件的数组") % {"max": limit}, field="events",
                           details={"max_events": limit})
    if len(events) > limit:
        raise BatchTooLarge(_("一批最多 %(max)d 个事件，本批 %(count)d 个") % {"max": limit, "count": len(events)},
                            field="events", details={"max_events": limit})
    return events


# -- OpenAPI shapes -------------------------------------------------------------------------------

_EVENT_FIELDS = {
    "event_id": serializers.CharField(max_length=64, help_text="发送方编号，同一停车场内唯一；重复即为重复事件"),
    "type": serializers.ChoiceField(choices=EventType.choices),
    "lot_code": serializers.CharField(max_length=32),
    "occurred_at": serializers.DateTimeField(help_text=(
        "ISO 8601，必须带时区偏移；晚于平台时间 5 分钟以上拒收（clock_skew），"
        f"早于平台时间 {INGEST_MAX_AGE.days} 天以上拒收（invalid_time）")),
    "plate": serializers.CharField(required=False, allow_null=True, help_text="entry/exit/berth_*；无牌车为 null"),
    "plate_color": serializers.ChoiceField(choices=PlateColor.choices, required=False, allow_null=True),
    "ticket_id": serializers.CharField(required=False, max_length=64, help_text="无牌车的纸质或二维码票号"),
    "vehicle_class": serializers.ChoiceField(choices=VehicleClass.choices, required=False, default="small"),
    "berth_code": serializers.CharField(required=False, help_text="berth_* 必填，entry/exit 可选"),
    "free_berths": serializers.IntegerField(required=False, min_value=0, help_text="lot_status：余位快照"),
    "total_berths": serializers.IntegerField(required=False, min_value=0, help_text="lot_status：总泊位"),
    "gate": serializers.CharField(required=False, max_length=64),
    "image_ref": serializers.CharField(required=False, max_length=255),
}

_SESSION_FIELDS = {
    "session_id": serializers.IntegerField(),
    "entry_at": serializers.DateTimeField(allow_null=True, help_text="无入场记录时为 null"),
    "exit_at": serializers.DateTimeField(allow_null=True),
    "amount_fen": serializers.IntegerField(),
    "paid_fen": serializers.IntegerField(),
    "due_fen": serializers.IntegerField(),
    "release": serializers.BooleanField(help_text="是否抬杆放行"),
    "release_reason": serializers.ChoiceField(choices=[
        "paid", "free", "pay_later", "reservation", "sharing_contract", "review", "unpaid"]),
}

_RESULT_FIELDS = {
    "event_id": serializers.CharField(allow_null=True, help_text="无法识别 event_id 的事件为 null"),
    "status": serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"]),
    "error": ErrorInfoSerializer(required=False, help_text=(
        "仅 rejected：code 如 lot_not_allowed、clock_skew、invalid_plate、invalid_time、invalid_event、"
        "invalid_number、unknown_berth；任何字符串字段（含字段名）含控制字符即为 invalid_event，"
        "任何字段（含嵌套字段）的数值无法表示（如 1e999）即为 invalid_number，details.field 指明字段；"
        "\"plate\": \"\" 为 invalid_plate（无牌车应传 null 并带 ticket_id）")),
    "session": inline_serializer("IngestSession", _SESSION_FIELDS, required=False, allow_null=True,
                                 help_text="仅 exit"),
}

BATCH_REQUEST = inline_serializer("IngestBatch", {
    "events": inline_serializer("IngestEvent", _EVENT_FIELDS, many=True,
                                help_text="1–1000 个事件（超过 1000 个为 413 batch_too_large），请求体不超过 1 MiB"),
})

BATCH_RESPONSE = inline_serializer("IngestBatchResult", {
    "accepted": serializers.IntegerField(),
    "duplicates": serializers.IntegerField(),
    "rejected": serializers.IntegerField(),
    "results": inline_serializer("IngestResult", _RESULT_FIELDS, many=True,
                                 help_text="每个事件一个结果，顺序与请求相同"),
})
