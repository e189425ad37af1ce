"""Staff API for the hotline (/api/v1/staff/tickets/): the tickets a member of staff may see,
scoped exactly as in the admin, with the deadlines and the full history."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers

from apps.common.api.exceptions import error_responses
from apps.common.api.params import StrictQueryParamsMixin
from apps.common.api.scope import StaffScopedMixin

from .. import workflow
from ..models import Ticket, TicketChange
from .filters import TicketFilter

TAGS = ["staff"]


class StaffTicketSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.code")
    unit = serializers.CharField(source="unit.name", allow_null=True, default=None)
    region = serializers.CharField(source="region.code", allow_null=True, default=None)
    lot = serializers.CharField(source="lot.code", allow_null=True, default=None)
    punctuality = serializers.SerializerMethodField(help_text=_("on_time、late、overdue 或 null（未到期）"))

    class Meta:
        model = Ticket
        fields = ["ticket_no", "state", "channel", "category", "description", "phone", "caller_name", "plate", "lot",
                  "region", "unit", "created_at", "respond_by", "resolve_by", "responded_at", "resolved_at",
                  "escalation", "review_requested", "rating", "punctuality"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["on_time", "late", "overdue"], allow_null=True))
    def get_punctuality(self, ticket) -> str | None:
        if ticket.resolved_at is not None:
            return "late" if ticket.resolved_at > ticket.resolve_by else "on_time"
        if ticket.state in workflow.OPEN_STATES and ticket.resolve_by < timezone.now():
            return "overdue"
        return None


class StaffChangeSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    # A plain string in the schema: "kind" names other choice sets elsewhere in the API.
    kind = serializers.CharField(help_text=", ".join(TicketChange.Kind.values))

    class Meta:
        model = TicketChange
        fields = ["at", "kind", "from_state", "state", "reason", "note", "public", "actor"]
        read_only_fields = fields


class StaffTicketDetailSerializer(StaffTicketSerializer):
    history = StaffChangeSerializer(source="changes", many=True)

    class Meta(StaffTicketSerializer.Meta):
        fields = [*StaffTicketSerializer.Meta.fields, "history"]
        read_only_fields = fields


_TICKETS = Ticket.objects.select_related("category", "unit", "region", "lot")


@extend_schema(tags=TAGS, summary="本人负责范围内的热线工单（工作人员）",
               responses={200: StaffTicketSerializer(many=True), **error_responses(400, 401, 403)})
class StaffTicketListView(StrictQueryParamsMixin, StaffScopedMixin, generics.ListAPIView):
    serializer_class = StaffTicketSerializer
    filterset_class = TicketFilter
    queryset = _TICKETS.order_by("-created_at", "-pk")


@extend_schema(tags=TAGS, summary="热线工单详情与办理记录（工作人员）",
               responses={200: StaffTicketDetailSerializer, **error_responses(401, 403, 404)})
class StaffTicketDetailView(StaffScopedMixin, generics.RetrieveAPIView):
    serializer_class = StaffTicketDetailSerializer
    queryset = _TICKETS.prefetch_related("changes__actor")
    lookup_field = "ticket_no"
