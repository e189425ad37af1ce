"""The public read API (SPEC §4): no login, nothing written."""

from __future__ import annotations

import json

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common import messages
from apps.common.api.exceptions import error_responses
from apps.common.api.params import StrictQueryParamsMixin
from apps.common.errors import NotFound

from ..models import LOT_CODE_VALIDATOR, ParkingLot
from ..selectors import (
    LotSnapshot,
    StayNotPriceable,
    fee_for_stay,
    lot_snapshot,
    lots_nearest,
    map_geojson,
    public_lots,
    snapshot_lots_filtered,
    snapshot_lots_nearest,
)
from .filters import LotFilter, NearestLotFilter
from .serializers import (
    LotDetailSerializer,
    LotSerializer,
    MapQuerySerializer,
    NearestLotSerializer,
    NearestQuerySerializer,
    QuoteQuerySerializer,
    QuoteSerializer,
    quote_input_error,
)

TAGS = ["public"]
LOT_CODE_RE = LOT_CODE_VALIDATOR.regex


class PublicAPIMixin(StrictQueryParamsMixin):
    """Open to everyone: no session or token lookup, so a request costs only its own queries. A query
    parameter the endpoint does not take is a 400 naming it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


# The filters ``selectors.snapshot_lots_filtered`` applies the way LotFilter's SQL does. A request
# using any other filter is answered from the database, through the FilterSet, as before.
SNAPSHOT_FILTERS = frozenset({"region", "kind", "has_ev", "has_accessible", "min_free", "bbox", "q"})
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class SnapshotReadMixin:
    """Public lot reads answered from the map's shared snapshot (``selectors.lot_snapshot``): the
    lots are filtered in memory and each lot's JSON was encoded once when the snapshot was built,
    so a page costs no query and no serializer per row, and its counts are as fresh as the map's.
    The FilterSet still validates every parameter (a bad value is the same 400)."""

    def snapshot_filters(self, request, snapshot: LotSnapshot) -> dict | None:
        """The filter values given, cleaned; None when the snapshot cannot answer (a filter it does
        not know, or a renderer other than JSON, as the browsable API in DEBUG).

        Building and validating a FilterSet costs more than the rest of the request; the cleaned
        values of a query string are remembered with the snapshot build (a region's subtree, the
        only thing they read from the database, is then as fresh as the lots are)."""
        if request.accepted_renderer.format != "json" or request.accepted_renderer.media_type != "application/json":
            return None
        names = self.filterset_class.base_filters
        given = tuple(sorted((name, tuple(request.query_params.getlist(name)))
                             for name in request.query_params if name in names))
        known, values = snapshot.remember(("filters", self.filterset_class, given),
                                          lambda: self._clean_filters(request))
        return values if known else None

    def _clean_filters(self, request) -> tuple[bool, dict]:
        filterset = DjangoFilterBackend().get_filterset(request, ParkingLot.objects.none(), self)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        values = {name: value for name, value in filterset.form.cleaned_data.items()
                  if value is not None and value != ""}
        return values.keys() <= SNAPSHOT_FILTERS, values

    @staticmethod
    def json_response(text: str) -> HttpResponse:
        return HttpResponse(text.encode(), content_type="application/json")


@extend_schema(
    tags=TAGS,
    summary="停车场列表",
    description="分页的停车场列表（含已关闭和离线的停车场，以 status 区分），按编码排序。",
    responses={200: LotSerializer(many=True), **error_responses(400, 404)},
)
class LotListView(PublicAPIMixin, SnapshotReadMixin, generics.ListAPIView):
    serializer_class = LotSerializer
    filterset_class = LotFilter

    def get_queryset(self):
        return public_lots().order_by("code")

    def list(self, request, *args, **kwargs):
        snapshot = lot_snapshot()
        filters = self.snapshot_filters(request, snapshot)
        if filters is None:
            return super().list(request, *args, **kwargs)
        page = self.paginate_queryset(snapshot_lots_filtered(snapshot, **filters))
        paginator = self.paginator
        return self.json_response(
            f'{{"count":{paginator.page.paginator.count},"next":{_encode(paginator.get_next_link())},'
            f'"previous":{_encode(paginator.get_previous_link())},"results":[{",".join(lot.json for lot in page)}]}}')


@extend_schema(
    tags=TAGS,
    summary="停车场详情",
    description="一个停车场的全部字段，另有 tariff_text：收费标准的文字说明。",
    parameters=[OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH, description="停车场编码")],
    responses={200: LotDetailSerializer, **error_responses(400, 404)},
)
class LotDetailView(PublicAPIMixin, generics.RetrieveAPIView):
    serializer_class = LotDetailSerializer
    filter_backends: list = []

    def get_object(self):
        code = self.kwargs["code"].strip().upper()
        # Only a well-formed code is looked up: PostgreSQL refuses a NUL in a query with an error.
        lot = public_lots().filter(code=code).first() if LOT_CODE_RE.fullmatch(code) else None
        if lot is None:
            raise NotFound(_("未找到停车场 %(code)s") % {"code": code}, details={"code": code})
        return lot


@extend_schema(
    tags=TAGS,
    summary="附近的停车场",
    description="按直线距离由近到远。min_free 默认 1：只返回开放、在线且有空位的停车场；"
                "也可使用列表的其他筛选条件。",
    parameters=[NearestQuerySerializer],
    responses={200: NearestLotSerializer(many=True), **error_responses(400)},
)
class LotNearestView(PublicAPIMixin, SnapshotReadMixin, generics.GenericAPIView):
    serializer_class = NearestLotSerializer
    filterset_class = NearestLotFilter
    pagination_class = None
    query_serializer_classes = (NearestQuerySerializer,)

    def get_queryset(self):
        return public_lots()

    def get(self, request):
        params = NearestQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        snapshot = lot_snapshot()
        filters = self.snapshot_filters(request, snapshot)
        if filters is None:
            lots = lots_nearest(queryset=self.filter_queryset(self.get_queryset()), **params.validated_data)
            return Response(self.get_serializer(lots, many=True).data)
        nearest = snapshot_lots_nearest(snapshot, **params.validated_data, **filters)
        return self.json_response(
            "[" + ",".join(f'{lot.json[:-1]},"distance_m":{distance}}}' for distance, lot in nearest) + "]")


class GeoJSONRenderer(JSONRenderer):
    """Lets a client ask for ``Accept: application/geo+json``; errors are still plain JSON."""

    media_type = "application/geo+json"
    format = "json"  # the same ?format= as JSON: one body, two names for its type


class _PointSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Point"])
    coordinates = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2,
                                        help_text="[lon, lat]，WGS-84")


class LotFeatureSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["Feature"])
    id = serializers.CharField(help_text="停车场编码")
    geometry = _PointSerializer()
    properties = LotSerializer()


# The shape of map/lots.geojson for the schema; the body itself is built from rows (selectors.map_geojson).
class LotFeatureCollectionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["FeatureCollection"])
    features = LotFeatureSerializer(many=True)


@extend_schema_view(get=extend_schema(
    tags=TAGS,
    summary="地图停车场 GeoJSON",
    operation_id="map_lots_geojson",
    description="地图页首先加载的全部停车场（每个一个 Point 要素，属性为停车场字段）。"
                "几秒内的请求共用同一份缓存快照；支持 gzip 与 ETag（If-None-Match → 304）。",
    parameters=[MapQuerySerializer],
    responses={
        (200, "application/geo+json"): OpenApiResponse(LotFeatureCollectionSerializer),
        (304, "application/geo+json"): OpenApiResponse(description="未变化（If-None-Match 与 ETag 相同）"),
        **error_responses(400),
    },
))
class MapLotsGeoJSONView(PublicAPIMixin, APIView):
    renderer_classes = [GeoJSONRenderer, JSONRenderer]
    query_serializer_classes = (MapQuerySerializer,)

    def get(self, request):
        params = MapQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        snapshot = map_geojson(region=params.validated_data.get("region"), kind=params.validated_data.get("kind"))
        if snapshot is None:
            code = params.validated_data.get("region")
            raise serializers.ValidationError(
                {"region": [ErrorDetail(messages.rule(messages.UNKNOWN_REGION, code=code), code="unknown_region")]})
        if snapshot.etag in request.headers.get("If-None-Match", ""):
            response = HttpResponseNotModified()
        elif "gzip" in request.headers.get("Accept-Encoding", ""):
            response = HttpResponse(snapshot.body_gzip, content_type="application/geo+json")
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(snapshot.body, content_type="application/geo+json")
        response["ETag"] = snapshot.etag
        response["Cache-Control"] = "public, max-age=2"
        patch_vary_headers(response, ["Accept-Encoding"])
        return response


@extend_schema(
    tags=TAGS,
    summary="停车费试算",
    description="按停车场的收费标准（SPEC §6）和适用的免费时段计算一次停车的费用。"
                "时间须带时区偏移（否则 400 naive_datetime），停车时长不超过 366 天；"
                "收费标准没有该车型的规则为 400 invalid（details.field = vehicle_class）；"
                "停车场未登记收费标准时返回 409 no_tariff，金额超出可记录范围时 409 amount_out_of_range。",
    parameters=[QuoteQuerySerializer],
    responses={200: QuoteSerializer, **error_responses(400, 404, 409)},
    examples=[OpenApiExample("一小时", value={"amount_fen": 600}, response_only=True)],
)
class FeeQuoteView(PublicAPIMixin, APIView):
    query_serializer_classes = (QuoteQuerySerializer,)

    def get(self, request):
        params = QuoteQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        lot = public_lots().filter(code=data["lot"]).first()
        if lot is None:
            raise NotFound(_("未找到停车场 %(code)s") % {"code": data["lot"]}, field="lot")
        try:
            amount = fee_for_stay(lot=lot, entry=data["entry"], exit=data["exit"],
                                  vehicle_class=data["vehicle_class"], new_energy=data["new_energy"])
        except StayNotPriceable as exc:
            raise quote_input_error(exc) from exc
        return Response(QuoteSerializer({"amount_fen": amount}).data)
