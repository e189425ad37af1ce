"""The ingest endpoint (SPEC §3): signed batches from lot systems."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.exceptions import error_responses
from apps.common.db import retry_once_if_connection_lost

from .. import signing
from ..auth import DeviceSignatureAuthentication, IsSignedDevice
from ..services import events_record
from .serializers import BATCH_REQUEST, BATCH_RESPONSE, check_body_size, parse_batch

_HEADERS = [
    OpenApiParameter(signing.HEADER_ACCESS_KEY, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="设备接入密钥 access key"),
    OpenApiParameter(signing.HEADER_TIMESTAMP, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="Unix 秒；与平台时间相差不得超过 300 秒"),
    OpenApiParameter(signing.HEADER_NONCE, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="8–64 个字符，10 分钟内不得重复"),
    OpenApiParameter(signing.HEADER_SIGNATURE, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                     description="小写十六进制 HMAC-SHA256(secret, METHOD\\nPATH\\nX-Timestamp\\nX-Nonce\\n"
                                 "hex(sha256(body)))，PATH 不含查询串"),
]


class IngestEventsView(APIView):
    authentication_classes = [DeviceSignatureAuthentication]
    permission_classes = [IsSignedDevice]
    parser_classes = [JSONParser]  # documents the body; the view parses the signed bytes itself
    throttle_classes: list = []

    def initial(self, request, *args, **kwargs):
        # Size first: nothing verifies, reads or parses a body that is too large.
        check_body_size(content_length=request.META.get("CONTENT_LENGTH"))
        check_body_size(content_length=None, body=request.body)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        tags=["ingest"],
        operation_id="ingest_events",
        summary="上报事件（停车场系统 → 平台）",
        description=(
            "SPEC §3.2。签名见 SPEC §3.1：401 unknown_key / stale_request / replayed_request / bad_signature"
            "（平台无法再解密设备密钥时亦为 unknown_key，须重新签发）。"
            "请求体 {\"events\": [...]}，1–1000 个事件、不超过 1 MiB：超过 1000 个事件或 1 MiB 为 "
            "413 batch_too_large（details.max_events / max_bytes）；"
            "非 JSON 为 400 invalid_json，缺少 events 或 events 为空为 400 invalid_batch。"
            "每个事件一个结果（accepted / duplicate / rejected），单个事件出错不影响其他事件；"
            "未授权或不存在的停车场按事件拒收，code 为 lot_not_allowed。exit 的结果带 session。"
            "数据库暂时不可用时为 503 service_unavailable（带 Retry-After），请按其秒数后重发同一批。"
        ),
        parameters=_HEADERS,
        request=BATCH_REQUEST,
        responses={200: BATCH_RESPONSE, **error_responses(400, 401, 413, 503)},
    )
    def post(self, request):
        events = parse_batch(request.body)
        # One transaction, idempotent per event: if the connection broke under it, nothing was
        # stored (or, if it broke at COMMIT, a second run finds the events as duplicates).
        outcome = retry_once_if_connection_lost(lambda: events_record(device=request.auth, events=events))
        return Response(outcome.as_dict())
