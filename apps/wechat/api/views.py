"""The citizen API (SPEC §8): my plates, my stays, my arrears; and the mini program's login."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api import citizen as citizen_api
from apps.common.api.exceptions import error_responses
from apps.common.api.params import StrictQueryParamsMixin
from apps.sessions.models import Arrears, ParkingSession

from .. import links, selectors, services
from ..client import mini_program_session
from .serializers import (
    ArrearsSerializer,
    MiniProgramLoginSerializer,
    PlateBindSerializer,
    PlateExportQuerySerializer,
    PlateExportSerializer,
    PlateSerializer,
    StaySerializer,
    TokenSerializer,
)

TAGS = ["citizen"]


class CitizenAPIMixin(StrictQueryParamsMixin, citizen_api.CitizenAPIMixin):
    """A citizen's own data: a DRF token (the mini program) or a session (pages inside WeChat),
    the one citizen login of apps.common.api.citizen. A query parameter the endpoint does not take
    is a 400, as everywhere in the API."""

    def plates(self) -> list[str]:
        return selectors.bound_plates_of(self.request.user)


def _plate_rows(user) -> list[dict]:
    return [{"plate": bound.plate, "bound_at": bound.bound_at}
            for bound in selectors.plates_of(selectors.citizen_of(user))]


class PlateListView(CitizenAPIMixin, APIView):
    @extend_schema(tags=TAGS, summary="我的车牌", responses={200: PlateSerializer(many=True), **error_responses(401)})
    def get(self, request):
        return Response(PlateSerializer(_plate_rows(request.user), many=True).data)

    @extend_schema(tags=TAGS, summary="绑定车牌", description="最多 3 个；已被他人绑定的车牌需近 30 天的缴费凭据。",
                   request=PlateBindSerializer,
                   responses={201: PlateSerializer, 200: PlateSerializer, **error_responses(400, 401, 403, 409)})
    def post(self, request):
        body = PlateBindSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        citizen = services.citizen_for_user(user=request.user)
        bound, created = services.plate_bind(citizen=citizen, plate=body.validated_data["plate"],
                                             proof=body.validated_data["proof"])
        return Response(PlateSerializer({"plate": bound.plate, "bound_at": bound.bound_at}).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PlateDetailView(CitizenAPIMixin, APIView):
    @extend_schema(tags=TAGS, summary="解绑车牌", responses={204: None, **error_responses(400, 401, 404)})
    def delete(self, request, plate: str):
        services.plate_unbind(citizen=selectors.citizen_of(request.user), plate=plate)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlateExportView(CitizenAPIMixin, APIView):
    """PIPL's copy of one's data: what the platform holds about a plate, for its verified owner."""

    query_serializer_classes = (PlateExportQuerySerializer,)

    @extend_schema(tags=TAGS, summary="导出车牌数据",
                   description=("平台持有的该车牌的全部数据（停车记录、上报事件、欠费、订单与支付、工单、预约）。"
                                "仅限已绑定且经核验的车主：转绑时出示过凭据，"
                                "或在 proof 中给出近 30 天内该车牌的缴费订单号。"
                                "未绑定：404；已绑定但未核验：403 plate_not_verified；"
                                "凭据不符：403 plate_proof_rejected。"),
                   parameters=[PlateExportQuerySerializer],
                   responses={200: PlateExportSerializer, **error_responses(400, 401, 403, 404)})
    def get(self, request, plate: str):
        query = PlateExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        export = services.plate_export(citizen=selectors.citizen_of(request.user), plate=plate,
                                       proof=query.validated_data["proof"])
        return Response(PlateExportSerializer(export).data)


def stay_rows(stays, fees) -> list[dict]:
    rows = []
    for stay in stays:
        fee = fees[stay.pk]
        rows.append({
            "session_id": stay.pk, "plate": stay.plate, "current": bool(stay.current), "state": stay.state,
            "lot_code": stay.lot.code, "lot_name": stay.lot.name, "lot_address": stay.lot.address,
            "lat": stay.lot.lat, "lon": stay.lot.lon,
            "berth": stay.berth.code if stay.berth else None,
            "floor": (stay.berth.floor or None) if stay.berth else None,
            "entry_at": stay.entry_at, "exit_at": stay.exit_at, "amount_fen": fee.amount_fen,
            "paid_fen": stay.paid_fen, "due_fen": fee.due_fen, "navigate_url": links.navigate(stay.lot.code),
        })
    return rows


class StayListView(CitizenAPIMixin, generics.GenericAPIView):
    paginated = True
    serializer_class = StaySerializer
    queryset = ParkingSession.objects.none()  # for the schema: the rows are the selector's

    @extend_schema(tags=TAGS, summary="我的停车（反向寻车）",
                   description="绑定车牌的停车记录：在场的在前（停车场、泊位、楼层和当前费用），其后为近 90 天的记录。",
                   responses={200: StaySerializer(many=True), **error_responses(400, 401)})
    def get(self, request):
        page = self.paginate_queryset(selectors.stays_of(self.plates()))
        rows = stay_rows(page, selectors.fees_so_far(page))
        return self.get_paginated_response(StaySerializer(rows, many=True).data)


def arrears_rows(owed) -> list[dict]:
    return [{
        "arrears_id": debt.pk, "session_id": debt.session_id, "plate": debt.plate, "lot_code": debt.lot.code,
        "lot_name": debt.lot.name, "entry_at": debt.session.entry_at, "exit_at": debt.session.exit_at,
        "created_at": debt.created_at, "amount_fen": debt.amount_fen, "paid_fen": debt.paid_fen,
        "due_fen": debt.amount_fen - debt.paid_fen, "pay_url": links.pay(debt.lot.code),
    } for debt in owed]


class ArrearsListView(CitizenAPIMixin, generics.GenericAPIView):
    paginated = True
    serializer_class = ArrearsSerializer
    queryset = Arrears.objects.none()  # for the schema: the rows are the selector's

    @extend_schema(tags=TAGS, summary="我的欠费", description="绑定车牌未缴清的欠费，最早的在前。",
                   responses={200: ArrearsSerializer(many=True), **error_responses(400, 401)})
    def get(self, request):
        page = self.paginate_queryset(selectors.arrears_of(self.plates()))
        return self.get_paginated_response(ArrearsSerializer(arrears_rows(page), many=True).data)


class MiniProgramLoginView(APIView):
    """The mini program's login: its ``wx.login()`` code, exchanged with WeChat (jscode2session)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(tags=TAGS, summary="小程序登录", request=MiniProgramLoginSerializer,
                   responses={200: TokenSerializer, **error_responses(400, 503)})
    def post(self, request):
        body = MiniProgramLoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        openid, unionid = mini_program_session(code=body.validated_data["code"])
        with transaction.atomic():
            citizen = services.citizen_for_identity(app_id=settings.WECHAT_MINI_APP_ID, openid=openid,
                                                    unionid=unionid)
            token, _created = Token.objects.get_or_create(user=citizen.user)
        return Response(TokenSerializer({"token": token.key}).data)
