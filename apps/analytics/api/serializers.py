"""Query parameters of the open-data endpoints, and the entity shape for the OpenAPI schema."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.common import messages
from apps.common.api.params import BooleanParam, IntegerParam

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
