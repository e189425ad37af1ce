"""Paying at the lot's code (SPEC §8.1): what is due, orders, their state and cancelling them.

``pay/due`` is open to everyone. The order endpoints need no login either, but take one when it
is given (a session or ``Authorization: Token``): arrears need it, and an order made by a citizen
is theirs alone."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.common.api.citizen import CitizenAPIMixin
from apps.common.api.exceptions import error_responses
from apps.common.api.params import StrictQueryParamsMixin
from apps.common.citizens import bound_plates, payer_openid
from apps.common.errors import NotFound
from apps.common.plates import validate as validate_plate
from apps.lots.models import LOT_CODE_VALIDATOR, ParkingLot
from apps.sessions import selectors as session_selectors

from .. import agreements, selectors, services
from .serializers import (
    AgreementSerializer,
    AgreementSignSerializer,
    DueQuerySerializer,
    DueSerializer,
    MyAgreementsSerializer,
    MyOrderSerializer,
    OrderCreateSerializer,
    OrderSerializer,
)

TAGS = ["pay"]


def public_base(request) -> str:
    """The platform's absolute address for gateways' callbacks and the pages they send payers to."""
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")


class PayDueView(StrictQueryParamsMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    query_serializer_classes = (DueQuerySerializer,)

    @extend_schema(tags=TAGS, summary="在停车场支付码查询待缴费用", parameters=[DueQuerySerializer],
                   description="该车牌在该停车场在场或待缴费（未放行）的停车记录；仍在场的按现在计费。"
                               "没有待缴费用时 404 not_found。",
                   responses={200: DueSerializer, **error_responses(400, 404)})
    def get(self, request):
        params = DueQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        code = params.validated_data["lot"].strip().upper()
        plate = validate_plate(params.validated_data["plate"])
        lot = ParkingLot.objects.filter(code=code).first() if LOT_CODE_VALIDATOR.regex.fullmatch(code) else None
        if lot is None:
            raise NotFound(_("未找到停车场 %(code)s") % {"code": code}, field="lot", details={"code": code})
        stays = [s for s in session_selectors.stays_due(session_selectors.active_stays(lot_id=lot.pk, plate=plate),
                                                        now=timezone.now()) if s.due_fen > 0]
        if not stays:
            raise NotFound(_("该车牌在本停车场没有待缴费用"), details={"lot": code, "plate": plate})
        body = {
            "lot_code": lot.code, "plate": plate, "due_fen": sum(s.due_fen for s in stays),
            "grace_minutes": lot.grace_minutes,
            "sessions": [{"session_id": s.session.pk, "entry_at": s.session.entry_at,
                          "exit_at": s.session.exit_at if s.session.state != s.session.State.OPEN else None,
                          "amount_fen": s.amount_fen, "paid_fen": s.paid_fen, "due_fen": s.due_fen} for s in stays],
        }
        return Response(DueSerializer(body).data)


class OptionalLoginMixin:
    """No login needed, but one given is used (a session or a token)."""

    optional_login = True
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    permission_classes = [AllowAny]


class OrderCreateView(StrictQueryParamsMixin, OptionalLoginMixin, APIView):
    @extend_schema(tags=TAGS, summary="下单支付", request=OrderCreateSerializer,
                   description="金额由服务器计算。同样的费用在其订单未支付时再次下单，返回 200 和同一订单；"
                               "其中有费用在另一未支付订单中时 409 debt_in_open_order；"
                               "没有待缴费用时 409 nothing_due。",
                   responses={201: OrderSerializer, 200: OrderSerializer, **error_responses(400, 401, 403, 404, 409),
                              502: OpenApiResponse(description="支付渠道暂时不可用（provider_unavailable）")})
    def post(self, request):
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lot_id = None
        if data.validated_data.get("lot"):
            code = data.validated_data["lot"].strip().upper()
            lot_id = ParkingLot.objects.filter(code=code).values_list("pk", flat=True).first() if (
                LOT_CODE_VALIDATOR.regex.fullmatch(code)) else None
            if lot_id is None:
                raise NotFound(_("未找到停车场 %(code)s") % {"code": code}, field="lot", details={"code": code})
        order, created = services.order_create(
            channel=data.validated_data["channel"], session_ids=data.validated_data.get("session_ids") or (),
            arrears_ids=data.validated_data.get("arrears_ids") or (), user=request.user,
            notify_base=public_base(request), openid=payer_openid(request.user),
            client_ip=request.META.get("REMOTE_ADDR", ""), lot_id=lot_id)
        order = selectors.order_for_payer(order_no=order.order_no, user=request.user)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OrderDetailView(StrictQueryParamsMixin, OptionalLoginMixin, APIView):
    @extend_schema(tags=TAGS, summary="订单详情", description="下单的市民本人可查；未登录下的订单凭订单号可查。",
                   responses={200: OrderSerializer, **error_responses(404)})
    def get(self, request, order_no: str):
        return Response(OrderSerializer(selectors.order_for_payer(order_no=order_no, user=request.user)).data)


class OrderCancelView(StrictQueryParamsMixin, OptionalLoginMixin, APIView):
    @extend_schema(tags=TAGS, summary="取消订单", request=None,
                   description="关闭未支付的订单（支付渠道处同时关闭）；已关闭的再次取消不变；"
                               "已支付的 409 order_not_open。",
                   responses={200: OrderSerializer, **error_responses(404, 409)})
    def post(self, request, order_no: str):
        order = selectors.order_for_payer(order_no=order_no, user=request.user)
        services.order_cancel(order=order)
        return Response(OrderSerializer(selectors.order_for_payer(order_no=order_no, user=request.user)).data)


class MyOrdersView(CitizenAPIMixin, APIView):
    @extend_schema(tags=["citizen"], summary="我的订单与缴费凭证",
                   description="本人下的订单，以及本人绑定车牌已支付的订单（最新在前，最多 100 笔）。",
                   responses={200: MyOrderSerializer(many=True), **error_responses(401)})
    def get(self, request):
        orders = selectors.orders_of(user=request.user, plates=bound_plates(request.user))
        return Response(MyOrderSerializer(orders, many=True).data)


class MyAgreementsView(CitizenAPIMixin, APIView):
    @extend_schema(tags=["citizen"], summary="我的无感支付协议",
                   description="本人签约的无感支付协议（生效的在前），以及现在可以开通的渠道。",
                   responses={200: MyAgreementsSerializer, **error_responses(401)})
    def get(self, request):
        return Response(MyAgreementsSerializer({"channels": agreements.agreement_channels(),
                                                "agreements": agreements.citizen_agreements(request.user)}).data)

    @extend_schema(tags=["citizen"], summary="开通无感支付", request=AgreementSignSerializer,
                   description="为本人已绑定的车牌开通无感支付（先离场后付费）：渠道确认协议生效后签约。"
                               "未绑定的车牌 403 plate_not_bound；同一车牌同一渠道已有生效协议 409 agreement_exists；"
                               "渠道未确认 400 agreement_refused。",
                   responses={201: AgreementSerializer, **error_responses(400, 401, 403, 409)})
    def post(self, request):
        body = AgreementSignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        agreement = agreements.citizen_agreement_sign(user=request.user, plate=data["plate"], channel=data["channel"],
                                                      provider_ref=data["provider_ref"])
        return Response(AgreementSerializer(agreement).data, status=status.HTTP_201_CREATED)


class MyAgreementEndView(CitizenAPIMixin, APIView):
    @extend_schema(tags=["citizen"], summary="解约无感支付", request=None,
                   description="结束本人的一份协议：此后离场不再先离场后付费。已解约的 409 agreement_not_active。",
                   responses={200: AgreementSerializer, **error_responses(401, 404, 409)})
    def post(self, request, pk: int):
        return Response(AgreementSerializer(agreements.citizen_agreement_end(user=request.user, agreement_id=pk)).data)
