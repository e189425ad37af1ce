"""Query parameters of the open-data endpoints, the entity shape for the OpenAPI schema, and a lot's
occupancy history."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.common import messages
from apps.common.api.params import BooleanParam, IntegerParam
from apps.lots.api.serializers import AwareDateTimeField

# NGSI-LD's representation options: only keyValues is served (the simplified form the FIWARE models show).
NGSI_OPTIONS = ("keyValues",)


class NgsiQuerySerializer(serializers.Serializer):
    # NGSI-LD's own paging parameters. Without them the whole registry comes back in one array. An offset
    # past the end, however large, is an empty array.
    limit = IntegerParam(min_value=1, max_value=10_000, required=False,
                         help_text=_("最多返回的实体数（1–10000）；不填则返回全部"))
    offset = IntegerParam(min_value=0, default=0, help_text=_("跳过的实体数，默认 0；超出总数时返回空数组"))
    # What an NGSI-LD client sends anyway: accepted, and refused when it asks for what is not served.
    options = serializers.CharField(required=False, help_text=_("NGSI-LD 表示选项：仅支持 keyValues"))
    count = BooleanParam(required=False, help_text=_("NGSI-LD count：总数总在 NGSILD-Results-Count 头中"))

    def validate_options(self, value: str) -> str:
        if any(option.strip() not in NGSI_OPTIONS for option in value.split(",")):
            raise serializers.ValidationError(messages.one_of_rule(NGSI_OPTIONS))
        return value


# Documentation of the entities (FIWARE dataModel.Parking, keyValues). The bodies are built by
# apps.analytics.open_data from rows; tests validate them against the FIWARE JSON schemas.
NGSI_ENTITY_SCHEMA = {
    "type": "object",
    "required": ["id", "type", "location"],
    "externalDocs": {"url": "https://github.com/smart-data-models/dataModel.Parking"},
    "properties": {
        "id": {"type": "string", "example": "urn:ngsi-ld:OffStreetParking:LX-00001"},
        "type": {"type": "string", "enum": ["OffStreetParking", "OnStreetParking"]},
        "name": {"type": "string"},
        "parkingSiteId": {"type": "string", "description": "停车场编码"},
        "location": {"type": "object", "description": "GeoJSON Point, [lon, lat] WGS-84",
                     "properties": {"type": {"type": "string", "enum": ["Point"]},
                                    "coordinates": {"type": "array", "items": {"type": "number"}}}},
        "address": {"type": "object", "additionalProperties": {"type": "string"}},
        "areaServed": {"type": "string", "description": "区域名称"},
        "category": {"type": "array", "items": {"type": "string"}},
        "extCategory": {"type": "array", "items": {"type": "string"}, "description": "平台自己的停车场类别"},
        "specialLocation": {"type": "array", "items": {"type": "string"}},
        "allowedVehicleType": {"type": "array", "items": {"type": "string"}},
        "occupancyDetectionType": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "array", "items": {"type": "string"},
                   "description": "open+spacesAvailable / full / closed / openingTimesInForce（离线：余位未知）"},
        "totalSpotNumber": {"type": "integer"},
        "availableSpotNumber": {"type": "integer", "description": "仅开放或已满的停车场提供"},
        "occupiedSpotNumber": {"type": "integer"},
        "occupancy": {"type": "number", "minimum": 0, "maximum": 1},
        "occupancyModified": {"type": "string", "format": "date-time"},
        "openingHours": {"type": "string"},
        "provider": {"type": "object", "properties": {"name": {"type": "string"}}},
        "dataProvider": {"type": "string"},
        "dateModified": {"type": "string", "format": "date-time"},
    },
}


# --- a lot's occupancy history ---------------------------------------------------------------

OCCUPANCY_DEFAULT_DAYS = 7
OCCUPANCY_MAX_DAYS = 90


class OccupancyQuerySerializer(serializers.Serializer):
    """``from`` and ``to`` (``from`` is a Python keyword, so the field is added by name)."""

    to = AwareDateTimeField(required=False, help_text=_("结束时间（不含），ISO 8601 带时区偏移；默认现在"))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = AwareDateTimeField(
            required=False, help_text=_("开始时间，ISO 8601 带时区偏移；默认结束时间前 7 天；所在小时整点起算"))
        return dict(sorted(fields.items(), key=lambda item: item[0] != "from"))

    def validate(self, attrs):
        end = attrs.get("to") or timezone.now()
        start = attrs.get("from") or end - timedelta(days=OCCUPANCY_DEFAULT_DAYS)
        if start >= end:
            raise serializers.ValidationError({"from": [_("开始时间须早于结束时间")]}, code="invalid_range")
        if end - start > timedelta(days=OCCUPANCY_MAX_DAYS):
            raise serializers.ValidationError(
                {"from": [_("时间范围不能超过 %(days)d 天") % {"days": OCCUPANCY_MAX_DAYS}]}, code="range_too_long")
        return {"from": start, "to": end}


class OccupancyHourSerializer(serializers.Serializer):
    hour = serializers.DateTimeField(help_text=_("该小时的开始（本地时间整点，带时区偏移）"))
    occupied_avg = serializers.FloatField(allow_null=True, help_text=_("平均占用泊位数；该小时无在线采样时为 null"))
    occupied_max = serializers.IntegerField(allow_null=True, help_text=_("最高占用泊位数；无在线采样时为 null"))
    total_berths = serializers.IntegerField(help_text=_("总泊位"))
    free_avg = serializers.FloatField(allow_null=True, help_text=_("平均空余泊位数；无在线采样时为 null"))


class OccupancyHistorySerializer(serializers.Serializer):
    lot_code = serializers.CharField(help_text=_("停车场编码"))
    # "from" again: declared by name below.
    to = serializers.DateTimeField(help_text=_("结束时间（不含）"))
    results = OccupancyHourSerializer(many=True, help_text=_("逐小时，时间升序；没有汇总的小时不出现"))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(help_text=_("开始时间（所在小时整点）"))
        order = ["lot_code", "from", "to", "results"]
        return {name: fields[name] for name in order}
