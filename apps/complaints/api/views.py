"""SPEC §8.2: the hotline from the web, no login. Views parse, call a service or selector, render."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.citizen import CitizenAPIMixin
from apps.common.api.exceptions import error_responses
from apps.lots.api.views import PublicAPIMixin

from .. import guard, services
from ..errors import TicketNotFound
from ..models import Channel
from ..selectors import categories_active, ticket_public, tickets_of
from .serializers import (
    CategorySerializer,
    FollowUpQuerySerializer,
    MyTicketSerializer,
    RatedSerializer,
    RatingSerializer,
    TicketCreatedSerializer,
    TicketCreateSerializer,
    TicketPublicSerializer,
)

TAGS = ["hotline"]


def _not_found() -> TicketNotFound:
    # One answer for an unknown number and a wrong pair: the caller can't tell them apart.
    return TicketNotFound(_("未找到该工单，请核对工单号和手机号后4位"))


def _callers_ticket(request, ticket_no: str, phone_last4: str):
    guard.check_lookup(request, ticket_no)
    ticket = ticket_public(ticket_no=ticket_no, phone_last4=phone_last4)
    if ticket is None:
        guard.lookup_failed(request, ticket_no)
        raise _not_found()
    return ticket


class CategoryListView(PublicAPIMixin, APIView):
    @extend_schema(tags=TAGS, summary="Hotline categories and their SLA",
                   responses={200: CategorySerializer(many=True)})
    def get(self, request):
        return Response(CategorySerializer(categories_active(), many=True).data)


class TicketCreateView(PublicAPIMixin, APIView):
    @extend_schema(tags=TAGS, summary="File a complaint (no login)", request=TicketCreateSerializer,
                   responses={201: TicketCreatedSerializer, **error_responses(400, 429)})
    def post(self, request):
        body = TicketCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        guard.check_create(request)
        ticket = services.ticket_create(
            channel=Channel.WEB, category=data["category"], description=data["description"], phone=data["phone"],
            lot=data.get("lot") or None, plate=data.get("plate") or "", lat=data.get("lat"), lon=data.get("lon"),
            coord_system=data.get("coord_system"), user=request.user)
        return Response(TicketCreatedSerializer(ticket).data, status=status.HTTP_201_CREATED)


class TicketFollowUpView(PublicAPIMixin, APIView):
    query_serializer_classes = (FollowUpQuerySerializer,)

    @extend_schema(tags=TAGS, summary="Follow a complaint up by its number and the phone's last 4 digits",
                   parameters=[FollowUpQuerySerializer],
                   responses={200: TicketPublicSerializer, **error_responses(400, 404, 429)})
    def get(self, request, ticket_no: str):
        params = FollowUpQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        ticket = _callers_ticket(request, ticket_no, params.validated_data["phone_last4"])
        return Response(TicketPublicSerializer(ticket).data)


class TicketRatingView(PublicAPIMixin, APIView):
    @extend_schema(tags=TAGS, summary="Rate a resolved complaint (once, 1–5)", request=RatingSerializer,
                   parameters=[OpenApiParameter("ticket_no", str, OpenApiParameter.PATH)],
                   responses={201: RatedSerializer, **error_responses(400, 404, 409, 429)})
    def post(self, request, ticket_no: str):
        body = RatingSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        ticket = _callers_ticket(request, ticket_no, data["phone_last4"])
        ticket = services.ticket_rate(ticket=ticket, score=data["score"], comment=data["comment"])
        return Response(RatedSerializer(ticket).data, status=status.HTTP_201_CREATED)


class MyTicketListView(CitizenAPIMixin, APIView):
    @extend_schema(tags=["citizen"], summary="我的投诉",
                   description="本人登录后提交（网页或公众号）的工单，最新在前，最多 50 件：状态、办结时限和查询页。",
                   responses={200: MyTicketSerializer(many=True), **error_responses(401)})
    def get(self, request):
        return Response(MyTicketSerializer(tickets_of(user=request.user), many=True).data)
