"""SPEC §8.3: hospitals and slots (public), booking and cancelling (login), off-peak sharing."""

from __future__ import annotations

import io

import segno
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.citizen import CitizenAPIMixin
from apps.common.api.exceptions import error_responses
from apps.common.api.params import StrictQueryParamsMixin
from apps.common.errors import NotFound

from .. import selectors, services
from ..models import Reservation, SharingContract, Suspension
from .serializers import (
    ApplicationCreateSerializer,
    ApplicationSerializer,
    ContractSerializer,
    HospitalQuerySerializer,
    HospitalSerializer,
    MySharingSerializer,
    OfferSerializer,
    ReservationCreateSerializer,
    ReservationSerializer,
    SuspensionSerializer,
)

TAGS = ["reservations"]


class PublicView(StrictQueryParamsMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class CitizenView(StrictQueryParamsMixin, CitizenAPIMixin, APIView):
    """A citizen's write or read (SPEC §8.3): the one citizen login, and no parameter it does not take."""


class HospitalListView(PublicView):
    query_serializer_classes = (HospitalQuerySerializer,)

    @extend_schema(tags=TAGS, parameters=[HospitalQuerySerializer], responses={200: HospitalSerializer(many=True),
                                                                               **error_responses(400)},
                   summary="Hospitals (and lots taking bookings) with their bookable slots and what remains")
    def get(self, request):
        query = HospitalQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        sites = selectors.bookable_sites(now=timezone.now(), kind=query.validated_data["site_kind"])
        return Response(HospitalSerializer(sites, many=True).data)


class ReservationCreateView(CitizenView):
    @extend_schema(tags=TAGS, request=ReservationCreateSerializer,
                   responses={201: ReservationSerializer, **error_responses(400, 401, 403, 409)},
                   summary="Book a slot for a bound plate")
    def post(self, request):
        body = ReservationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reservation = services.reservation_book(user=request.user, slot_id=body.validated_data["slot"],
                                                plate=body.validated_data["plate"])
        return Response(ReservationSerializer(reservation).data, status=status.HTTP_201_CREATED)


def _own_reservation(request, pk) -> Reservation:
    try:
        return Reservation.objects.select_related("slot", "hospital", "lot").get(pk=pk, user=request.user)
    except Reservation.DoesNotExist:
        raise NotFound("没有这个预约 / no such reservation") from None


class ReservationDetailView(CitizenView):
    @extend_schema(tags=TAGS, responses={200: ReservationSerializer, **error_responses(401, 404)},
                   summary="One of my reservations")
    def get(self, request, pk: int):
        return Response(ReservationSerializer(_own_reservation(request, pk)).data)

    @extend_schema(tags=TAGS, responses={200: ReservationSerializer, **error_responses(401, 404, 409)},
                   summary="Cancel my reservation while cancellation is allowed")
    def delete(self, request, pk: int):
        reservation = services.reservation_cancel(reservation_id=pk, user=request.user)
        return Response(ReservationSerializer(reservation).data)


class ReservationQRView(CitizenView):
    @extend_schema(tags=TAGS, responses={(200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.STR),
                                         **error_responses(401, 404)},
                   summary="The reservation's code as a QR code, to show at the gate")
    def get(self, request, pk: int):
        reservation = _own_reservation(request, pk)
        svg = io.BytesIO()
        segno.make(reservation.code, error="m").save(svg, kind="svg", scale=6, border=2, xmldecl=False)
        response = HttpResponse(svg.getvalue(), content_type="image/svg+xml")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class MyReservationsView(CitizenView):
    @extend_schema(tags=TAGS, responses={200: ReservationSerializer(many=True), **error_responses(401)},
                   summary="My reservations, latest slot first")
    def get(self, request):
        return Response(ReservationSerializer(selectors.reservations_of(request.user), many=True).data)


class MySuspensionsView(CitizenView):
    @extend_schema(tags=TAGS, responses={200: SuspensionSerializer(many=True), **error_responses(401)},
                   summary="Where my booking is suspended (too many no-shows), and until when")
    def get(self, request):
        rows = (Suspension.objects.filter(user=request.user, lifted_at__isnull=True, until__gt=timezone.now())
                .select_related("hospital").order_by("until"))
        return Response(SuspensionSerializer(rows, many=True).data)


class OfferListView(PublicView):
    @extend_schema(tags=TAGS, responses={200: OfferSerializer(many=True)}, summary="Off-peak sharing offers")
    def get(self, request):
        return Response(OfferSerializer(selectors.public_offers(), many=True).data)


class ApplicationCreateView(CitizenView):
    @extend_schema(tags=TAGS, request=ApplicationCreateSerializer,
                   responses={201: ApplicationSerializer, **error_responses(400, 401, 403, 409)},
                   summary="Apply for an off-peak sharing offer with a bound plate")
    def post(self, request):
        body = ApplicationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        application = services.sharing_apply(user=request.user, offer_id=body.validated_data["offer"],
                                              plate=body.validated_data["plate"],
                                              address=body.validated_data["address"])
        application = type(application).objects.select_related("offer__lot").get(pk=application.pk)
        return Response(ApplicationSerializer(application).data, status=status.HTTP_201_CREATED)


class MySharingView(CitizenView):
    @extend_schema(tags=TAGS, responses={200: MySharingSerializer, **error_responses(401)},
                   summary="My sharing applications and contracts")
    def get(self, request):
        return Response(MySharingSerializer(selectors.sharing_of(request.user)).data)


class MyContractActionView(CitizenView):
    action = ""

    @extend_schema(tags=TAGS, request=None, responses={200: ContractSerializer, **error_responses(401, 404, 409)},
                   summary="End or renew my sharing contract")
    def post(self, request, pk: int):
        act = services.sharing_contract_end if self.action == "end" else services.sharing_contract_renew
        contract = act(contract_id=pk, user=request.user)
        return Response(ContractSerializer(SharingContract.objects.select_related("lot").get(pk=contract.pk)).data)
