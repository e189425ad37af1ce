"""SPEC §8.2's bodies."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common import messages
from apps.common.api.params import ChoiceParam, IntegerParam, NumberParam, StrictBodySerializer

from .. import workflow
from ..models import Category, Ticket
from ..public import redact, unit_name
from ..selectors import public_history

_TEXT = {"required": messages.REQUIRED, "invalid": messages.STRING, "null": messages.REQUIRED}


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["code", "name", "respond_hours", "resolve_working_days"]


class TicketCreateSerializer(StrictBodySerializer):
    """The web form. The service judges the values (category, description, phone, lot, plate)."""

    category = serializers.CharField(max_length=32, allow_blank=True, error_messages=_TEXT)
    description = serializers.CharField(allow_blank=True, trim_whitespace=False, error_messages=_TEXT)
    phone = serializers.CharField(max_length=32, allow_blank=True, error_messages=_TEXT)
    lot = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True,
                                error_messages=_TEXT, help_text=_("停车场编码"))
    plate = serializers.CharField(max_length=16, required=False, allow_null=True, allow_blank=True,
                                  error_messages=_TEXT)
    lat = NumberParam(required=False, allow_null=True, min_value=-90, max_value=90)
    lon = NumberParam(required=False, allow_null=True, min_value=-180, max_value=180)
    coord_system = ChoiceParam(["wgs84", "gcj02"], required=False, default="wgs84")


class TicketCreatedSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.code")
    state = serializers.ChoiceField(choices=workflow.STATES)

    class Meta:
        model = Ticket
        fields = ["ticket_no", "state", "category", "created_at", "respond_by", "resolve_by"]


class HistoryEntrySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=workflow.STATES)
    at = serializers.DateTimeField()
    note = serializers.SerializerMethodField()

    def get_note(self, change) -> str:
        return redact(change.note)


class TicketPublicSerializer(TicketCreatedSerializer):
    unit = serializers.SerializerMethodField(help_text=_("承办单位的对外名称"))
    history = serializers.SerializerMethodField(help_text=_("公开的办理记录，最早的在前"))

    class Meta(TicketCreatedSerializer.Meta):
        fields = ["ticket_no", "state", "category", "unit", "created_at", "respond_by", "resolve_by", "history"]

    def get_unit(self, ticket) -> str | None:
        return unit_name(ticket)

    @extend_schema_field(HistoryEntrySerializer(many=True))
    def get_history(self, ticket):
        return HistoryEntrySerializer(public_history(ticket), many=True).data


class RatingSerializer(StrictBodySerializer):
    phone_last4 = serializers.RegexField(r"^\d{4}$", error_messages={
        "invalid": _("须为来电号码的后4位数字"), "required": messages.REQUIRED})
    score = IntegerParam(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                    error_messages=_TEXT)


class RatedSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=workflow.STATES)
    score = serializers.IntegerField(source="rating")
    comment = serializers.CharField(source="rating_comment")

    class Meta:
        model = Ticket
        fields = ["ticket_no", "state", "score", "comment", "rated_at"]


class FollowUpQuerySerializer(serializers.Serializer):
    phone_last4 = serializers.RegexField(r"^\d{4}$", error_messages={
        "invalid": _("须为来电号码的后4位数字"), "required": messages.REQUIRED})


class MyTicketSerializer(serializers.ModelSerializer):
    """A ticket in its citizen's own list (我的): its state and deadlines, and its follow-up page."""

    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    state = serializers.ChoiceField(choices=workflow.STATES)
    state_name = serializers.CharField(source="get_state_display")
    track_url = serializers.SerializerMethodField(help_text=_("工单的查询页"))

    class Meta:
        model = Ticket
        fields = ["ticket_no", "state", "state_name", "category", "category_name", "created_at", "respond_by",
                  "resolve_by", "track_url"]

    def get_track_url(self, ticket: Ticket) -> str:
        from ..answers import track_path

        return track_path(ticket)
