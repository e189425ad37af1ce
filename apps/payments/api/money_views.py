"""Arrears recovery's two faces outside the admin: the masked public list (no login) and the
blacklist a lot system reads on entry (signed like ingest, SPEC §3.1, for the lots its key covers)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common import plates
from apps.common.api.exceptions import error_responses
from apps.common.api.pagination import PageNumberPagination
from apps.common.api.params import StrictQueryParamsMixin
from apps.common.errors import Forbidden
from apps.lots.models import LOT_CODE_VALIDATOR, ParkingLot
from apps.sessions.api.views import _HEADERS as SIGNED_HEADERS
from apps.sessions.auth import DeviceSignatureAuthentication, IsSignedDevice

from .. import recovery


class PublicListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000)


PUBLIC_ROW = inline_serializer("PublicArrears", {
    "plate": serializers.CharField(help_text="打码车牌，如 苏B***45"),
    "owed_fen": serializers.IntegerField(), "arrears_count": serializers.IntegerField(),
    "since": serializers.DateField(help_text="最早一笔欠费的日期"),
})


class PublicArrearsView(StrictQueryParamsMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    query_serializer_classes = (PublicListQuery,)
    pagination_class = PageNumberPagination

    @extend_schema(tags=["arrears"], operation_id="arrears_public_list", summary="长期欠费公开名单（车牌打码）",
                   description="追缴规则列入公开名单且仍有欠费的车牌，按最早欠费时间排列；车牌按 SPEC §2 打码。",
                   parameters=[PublicListQuery],
                   responses={200: inline_serializer("PublicArrearsPage", {
                       "count": serializers.IntegerField(), "next": serializers.CharField(allow_null=True),
                       "previous": serializers.CharField(allow_null=True),
                       "results": serializers.ListField(child=PUBLIC_ROW)}), **error_responses(400)})
    def get(self, request):
        PublicListQuery(data=request.query_params).is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(recovery.public_list(), request, view=self)
        return paginator.get_paginated_response([
            {"plate": plates.mask(row["plate"]), "owed_fen": row["owed"], "arrears_count": row["count"],
             "since": timezone.localtime(row["since"]).date().isoformat()} for row in page])


class BlacklistQuery(serializers.Serializer):
    lot = serializers.CharField(max_length=32, help_text="停车场编码（本接入密钥可上报的）")
    plate = serializers.CharField(max_length=16, required=False, help_text="只查这一个车牌；不填则列出全部")


class IngestBlacklistView(StrictQueryParamsMixin, APIView):
    authentication_classes = [DeviceSignatureAuthentication]
    permission_classes = [IsSignedDevice]
    throttle_classes: list = []
    query_serializer_classes = (BlacklistQuery,)

    @extend_schema(
        tags=["ingest"], operation_id="ingest_blacklist", summary="读取经营单位欠费黑名单（入场时核对）",
        description=("签名同 SPEC §3.1（GET 的请求体为空，签名中 hex(sha256(body)) 为空串的摘要）。"
                     "返回该停车场经营单位列入黑名单且仍欠费的车牌（全牌，供入口识别）；"
                     "工作人员解除或车主缴清后即不再返回。未授权的停车场 403 lot_not_allowed。"),
        parameters=[*SIGNED_HEADERS, BlacklistQuery],
        responses={200: inline_serializer("IngestBlacklist", {
            "lot_code": serializers.CharField(),
            "plates": serializers.ListField(child=inline_serializer("IngestBlacklistPlate", {
                "plate": serializers.CharField(), "since": serializers.DateTimeField(),
                "owed_fen": serializers.IntegerField()}))}), **error_responses(400, 401, 403)})
    def get(self, request):
        params = BlacklistQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        code = params.validated_data["lot"].strip().upper()
        lot = ParkingLot.objects.filter(code=code).first() if LOT_CODE_VALIDATOR.regex.fullmatch(code) else None
        if lot is None or lot.pk not in request.auth.lot_ids:
            raise Forbidden(_("该接入密钥不能读取这个停车场"), code="lot_not_allowed", field="lot",
                            details={"lot": code})
        plate = params.validated_data.get("plate")
        flags = recovery.blacklist_for_lot(lot=lot, plate=plates.validate(plate) if plate else None)
        return Response({"lot_code": lot.code,
                         "plates": [{"plate": f.plate, "since": f.since, "owed_fen": f.owed_fen} for f in flags]})
