"""Open data (SPEC §5): no login; lots, their occupancy and nothing about vehicles."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.exceptions import error_responses
from apps.common.api.params import StrictQueryParamsMixin
from apps.common.errors import NotFound
from apps.lots.models import LOT_CODE_VALIDATOR, ParkingLot

from ..open_data import (
    CSV_COLUMNS,
    ENTITY_TYPE_KIND,
    NGSI_CONTEXT_LINK,
    OFF_STREET,
    ON_STREET,
    ngsi_entities_json,
    open_data_rows,
    registry_csv,
)
from ..rollups import hour_floor
from ..selectors import lot_hours
from .serializers import (
    NGSI_ENTITY_SCHEMA,
    OCCUPANCY_MAX_DAYS,
    NgsiQuerySerializer,
    OccupancyHistorySerializer,
    OccupancyQuerySerializer,
)

TAGS = ["open-data"]


class OpenDataAPIView(StrictQueryParamsMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class JSONLDRenderer(JSONRenderer):
    """NGSI-LD clients ask for ``application/ld+json``; errors are plain JSON either way."""

    media_type = "application/ld+json"
    format = "json"


class NgsiParkingView(OpenDataAPIView):
    entity_type: str = ""
    renderer_classes = [JSONRenderer, JSONLDRenderer]
    query_serializer_classes = (NgsiQuerySerializer,)

    def get(self, request):
        params = NgsiQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        offset, limit = params.validated_data["offset"], params.validated_data.get("limit")
        kind = ENTITY_TYPE_KIND[self.entity_type]
        total = ParkingLot.objects.filter(kind=kind).count()
        if offset >= total:
            rows = []  # past the end: no number beyond the table (nor beyond a bigint) reaches the database
        else:
            rows = open_data_rows(kind=kind)
            rows = (rows[offset:offset + limit] if limit else rows[offset:]).iterator(chunk_size=2000)
        as_ld = request.accepted_renderer.media_type == JSONLDRenderer.media_type
        response = HttpResponse(ngsi_entities_json(rows, self.entity_type, with_context=as_ld),
                                content_type="application/ld+json" if as_ld else "application/json")
        if not as_ld:
            response["Link"] = NGSI_CONTEXT_LINK
        response["NGSILD-Results-Count"] = str(total)
        return response


def _ngsi_schema(entity_type: str, kind_zh: str):
    return extend_schema_view(get=extend_schema(
        tags=TAGS,
        summary=f"NGSI-LD {entity_type}（{kind_zh}）",
        operation_id=f"open_ngsi_ld_{entity_type}",
        description=(
            f"全部{kind_zh}，NGSI-LD 实体数组（keyValues），遵循 FIWARE Smart Data Models dataModel.Parking 的 "
            f"{entity_type} 模式；id 为 urn:ngsi-ld:{entity_type}:<停车场编码>。以 application/json 请求时 "
            "@context 在 Link 头中，以 application/ld+json 请求时在每个实体中。NGSILD-Results-Count 头为总数。"
            "不含任何车牌。"
        ),
        parameters=[NgsiQuerySerializer],
        responses={
            (200, "application/json"): OpenApiResponse({"type": "array", "items": NGSI_ENTITY_SCHEMA}),
            (200, "application/ld+json"): OpenApiResponse({"type": "array", "items": NGSI_ENTITY_SCHEMA}),
            **error_responses(400),
        },
    ))


@_ngsi_schema(OFF_STREET, "路外停车场")
class OffStreetParkingView(NgsiParkingView):
    entity_type = OFF_STREET


@_ngsi_schema(ON_STREET, "道路泊位")
class OnStreetParkingView(NgsiParkingView):
    entity_type = ON_STREET


class _AlwaysJSON(BaseContentNegotiation):
    """The CSV body is built by the view; only an error goes through a renderer, and that is JSON
    whatever the client accepts (a spreadsheet client sends ``Accept: text/csv``)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


@extend_schema_view(get=extend_schema(
    tags=TAGS,
    summary="停车场底册与当前余位（CSV）",
    operation_id="open_lots_csv",
    description="全部停车场一行一个，UTF-8（带 BOM，Excel 可直接打开），列："
                + ", ".join(CSV_COLUMNS) + "。关闭或离线的停车场 free_berths 为空（余位不可信，与 NGSI-LD 一致）。"
                "不接受查询参数。不含任何车牌。",
    responses={(200, "text/csv"): OpenApiResponse({"type": "string"}), **error_responses(400)},
))
class RegistryCSVView(OpenDataAPIView):
    content_negotiation_class = _AlwaysJSON

    def get(self, request):
        response = HttpResponse(registry_csv(open_data_rows().iterator(chunk_size=2000)),
                                content_type="text/csv; charset=utf-8")
        filename = f"wuxi-parking-lots-{timezone.localdate():%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@extend_schema_view(get=extend_schema(
    tags=TAGS,
    summary="停车场逐小时占用历史",
    operation_id="open_lot_occupancy",
    description=(
        f"一个停车场逐小时的占用汇总（本地时间整点），时间范围 [from, to)，默认最近 7 天，最长 {OCCUPANCY_MAX_DAYS} 天"
        "（超出为 400 range_too_long）。from 取所在小时的整点。"
        "数据来自每 5 分钟一次的余位采样（停车场离线时的采样不计），"
        "该小时没有在线采样时 occupied_avg、occupied_max、free_avg 为 null。没有汇总的小时不出现。不含任何车牌。"
    ),
    parameters=[OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH, description="停车场编码"),
                OccupancyQuerySerializer],
    responses={200: OccupancyHistorySerializer, **error_responses(400, 404)},
))
class LotOccupancyView(OpenDataAPIView):
    query_serializer_classes = (OccupancyQuerySerializer,)

    def get(self, request, code: str):
        params = OccupancyQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        start, end = hour_floor(params.validated_data["from"]), params.validated_data["to"]
        code = code.strip().upper()
        # Only a well-formed code is looked up: PostgreSQL refuses a NUL in a query with an error.
        lot = ParkingLot.objects.filter(code=code).values("id", "code").first() \
            if LOT_CODE_VALIDATOR.regex.fullmatch(code) else None
        if lot is None:
            raise NotFound(_("未找到停车场 %(code)s") % {"code": code}, details={"code": code})
        results = []
        for row in lot_hours(lot_id=lot["id"], start=start, end=end):
            known = row["samples"] > 0
            avg = round(row["occupied_avg"], 2) if known else None
            results.append({
                "hour": timezone.localtime(row["hour"]).isoformat(), "total_berths": row["total_berths"],
                "occupied_avg": avg, "occupied_max": row["occupied_max"] if known else None,
                "free_avg": round(row["total_berths"] - row["occupied_avg"], 2) if known else None,
            })
        return Response({"lot_code": lot["code"], "from": timezone.localtime(start).isoformat(),
                         "to": timezone.localtime(end).isoformat(), "results": results})
