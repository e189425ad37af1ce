"""Staff read API (/api/v1/staff/...): a region's or operator's own lots with the registry and
supervision fields the public never sees, scoped exactly as in the admin."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from apps.common.api.exceptions import error_responses
from apps.common.api.scope import StaffScopedMixin

from ..models import ParkingLot
from .filters import LotFilter
from .serializers import LotSerializer

TAGS = ["staff"]


class StaffLotSerializer(LotSerializer):
    """A lot as staff supervise it: the public fields plus filing, compliance and connectivity."""

    last_seen_at = serializers.DateTimeField(allow_null=True, help_text=_("最近一次上报时间"))
    offline_since = serializers.DateTimeField(allow_null=True, help_text=_("离线起始时间；在线时为 null"))

    class Meta(LotSerializer.Meta):
        fields = [*LotSerializer.Meta.fields, "category", "operator_credit_code", "filing_status",
                  "compliance_level", "allow_pay_later", "reservable_berths", "last_seen_at", "offline_since"]
        read_only_fields = fields

    operator_credit_code = serializers.CharField(source="operator.credit_code", allow_null=True,
                                                 help_text=_("经营单位统一社会信用代码"))


@extend_schema(tags=TAGS, summary="本人负责范围内的停车场（工作人员）",
               responses={200: StaffLotSerializer(many=True), **error_responses(400, 401, 403)})
class StaffLotListView(StaffScopedMixin, generics.ListAPIView):
    serializer_class = StaffLotSerializer
    filterset_class = LotFilter

    def get_queryset(self):  # built per request: the forecast source is registered once the apps are ready
        return ParkingLot.objects.with_public_relations().order_by("code").for_user(self.request.user)


@extend_schema(tags=TAGS, summary="停车场详情（工作人员）",
               responses={200: StaffLotSerializer, **error_responses(401, 403, 404)})
class StaffLotDetailView(StaffScopedMixin, generics.RetrieveAPIView):
    serializer_class = StaffLotSerializer
    lookup_field = "code"

    def get_queryset(self):
        return ParkingLot.objects.with_public_relations().for_user(self.request.user)
