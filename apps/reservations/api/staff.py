"""Staff views of booking and sharing (issue 9 item 8), scoped as everything else: per site and
day, places, bookings, arrivals, no-shows and cancellations; per lot, its sharing contracts, their
use inside and outside the windows and the revenue from them."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.exceptions import error_responses
from apps.common.api.params import StrictQueryParamsMixin
from apps.common.api.scope import IsStaff

from .. import selectors

TAGS = ["staff"]
MAX_DAYS = 92


class DaysQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="first local day (default: 7 days ago)")
    end = serializers.DateField(required=False, help_text="last local day (default: 7 days ahead)")

    def validate(self, attrs):
        today = timezone.localdate()
        attrs.setdefault("start", today - timedelta(days=7))
        attrs.setdefault("end", today + timedelta(days=7))
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "end must not be before start"})
        if (attrs["end"] - attrs["start"]).days >= MAX_DAYS:
            raise serializers.ValidationError({"end": f"at most {MAX_DAYS} days"})
        return attrs


class HospitalDayStatsSerializer(serializers.Serializer):
    hospital_id = serializers.IntegerField()
    hospital = serializers.CharField()
    day = serializers.DateField()
    places = serializers.IntegerField()
    booked = serializers.IntegerField()
    arrived = serializers.IntegerField()
    no_show = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class SharingLotStatsSerializer(serializers.Serializer):
    lot_code = serializers.CharField()
    lot = serializers.CharField()
    contracts = serializers.IntegerField()
    active = serializers.IntegerField()
    revenue_fen = serializers.IntegerField()
    stays_inside = serializers.IntegerField(help_text="stays released as sharing_contract: inside the windows")
    stays_outside = serializers.IntegerField(help_text="stays with time outside the windows, billed as usual")
    billed_fen = serializers.IntegerField()


class StaffView(StrictQueryParamsMixin, APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsStaff]


class HospitalStatsView(StaffView):
    query_serializer_classes = (DaysQuerySerializer,)

    @extend_schema(tags=TAGS, parameters=[DaysQuerySerializer],
                   responses={200: HospitalDayStatsSerializer(many=True), **error_responses(400, 401, 403)},
                   summary="预约点每日统计：名额、预约、到达、爽约、取消（工作人员）")
    def get(self, request):
        query = DaysQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        tz = timezone.get_current_timezone()
        start = datetime.combine(query.validated_data["start"], time(0), tzinfo=tz)
        end = datetime.combine(query.validated_data["end"] + timedelta(days=1), time(0), tzinfo=tz)
        rows = selectors.hospital_daily_stats(user=request.user, start=start, end=end)
        return Response(HospitalDayStatsSerializer(rows, many=True).data)


class SharingStatsView(StaffView):
    @extend_schema(tags=TAGS, responses={200: SharingLotStatsSerializer(many=True), **error_responses(401, 403)},
                   summary="错时共享按停车场统计：合同、窗口内外使用、收入（工作人员）")
    def get(self, request):
        rows = selectors.sharing_lot_stats(user=request.user, now=timezone.now())
        return Response(SharingLotStatsSerializer(rows, many=True).data)
