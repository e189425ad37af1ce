"""The public lot representation (SPEC §4) and the query parameters of the read API."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common import messages
from apps.common.api.params import BooleanParam, ChoiceParam, IntegerParam, NumberParam
from apps.common.times import TimeInvalid, parse_aware

from ..bookings import booking_rules
from ..forecasts import forecast_value
from ..models import LOT_CODE_VALIDATOR, ParkingLot
from ..selectors import StayNotPriceable, stay_check
from ..tariff_text import describe_tariff_in
from .filters import REGION_CODE_RE

PUBLIC_STATUSES = ("open", "full", "closed", "offline")
VEHICLE_CLASSES = ("small", "large")

TARIFF_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "收费规则（SPEC §6 JSON），每个车型一套；未登记收费标准时为 null",
    "additionalProperties": {"type": "object", "additionalProperties": True},
    "example": {"small": {"free_minutes": 30, "bands": [
        {"start": "07:00", "end": "20:00", "ladder": [{"after_minutes": 0, "unit_minutes": 30, "unit_fen": 300}]}]},
        "large": {"same_as": "small", "multiplier": 2}},
}


@extend_schema_field(TARIFF_SCHEMA)
class TariffRulesField(serializers.JSONField):
    pass


FORECAST_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "预计空余泊位（整数，0 至总泊位）；该停车场的历史数据不足以支持预测时为 null",
    "properties": {key: {"type": "integer", "minimum": 0} for key in ("in_15_min", "in_30_min", "in_60_min")},
    "required": ["in_15_min", "in_30_min", "in_60_min"],
    "example": {"in_15_min": 14, "in_30_min": 12, "in_60_min": 9},
}


@extend_schema_field(FORECAST_SCHEMA)
class ForecastField(serializers.Field):
    """The lot's ``public_forecast`` annotation (``apps.lots.forecasts``); null on a lot read without it."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        return getattr(instance, "public_forecast", None)

    def to_representation(self, value):
        return forecast_value(value)


# Read from selectors.public_lots() (region, operator and tariff joined): a page of lots is one query.
class LotSerializer(serializers.ModelSerializer):
    """停车场（SPEC §4）。"""

    region = serializers.CharField(source="region.code", help_text=_("区域代码（GB/T 2260）"))
    region_name = serializers.CharField(source="region.name", help_text=_("区域名称"))
    status = serializers.ChoiceField(
        source="public_status", choices=PUBLIC_STATUSES,
        help_text=_("open 有空位，full 已满，closed 关闭，offline 离线（数据超过 10 分钟未更新）"),
    )
    updated_at = serializers.DateTimeField(source="updated_at_public", help_text=_("余位数据的时间"))
    tariff = TariffRulesField(source="tariff.rules", allow_null=True)
    operator = serializers.CharField(source="operator.name", allow_null=True,
                                     help_text=_("经营单位名称；未登记时为 null"))
    forecast = ForecastField()

    class Meta:
        model = ParkingLot
        fields = ["code", "name", "address", "region", "region_name", "kind", "lat", "lon", "total_berths",
                  "free_berths", "ev_berths", "accessible_berths", "status", "updated_at", "opening_hours",
                  "tariff", "operator", "forecast"]
        read_only_fields = fields


class LotDetailSerializer(LotSerializer):
    tariff_text = serializers.SerializerMethodField(
        help_text=_("收费标准的文字说明，含各车型（如大型车的倍数），随请求语言中文或英文"))
    booking_rules = serializers.SerializerMethodField(
        help_text=_("在此停车场预约泊位的规则（如预约充电泊位的免费停车时长），随请求语言中文或英文；不接受预约时为空"))

    class Meta(LotSerializer.Meta):
        fields = [*LotSerializer.Meta.fields, "tariff_text", "booking_rules"]
        read_only_fields = fields

    def get_booking_rules(self, lot: ParkingLot) -> list[str]:
        return booking_rules(lot)

    def get_tariff_text(self, lot: ParkingLot) -> str | None:
        if lot.tariff is None:
            return None
        return describe_tariff_in(translation.get_language(), lot.tariff.rules)


class NearestLotSerializer(LotSerializer):
    distance_m = serializers.IntegerField(help_text=_("与查询点的直线距离（米）"))

    class Meta(LotSerializer.Meta):
        fields = [*LotSerializer.Meta.fields, "distance_m"]
        read_only_fields = fields


class NearestQuerySerializer(serializers.Serializer):
    lat = NumberParam(min_value=-90, max_value=90, help_text=_("纬度（WGS-84）"))
    lon = NumberParam(min_value=-180, max_value=180, help_text=_("经度（WGS-84）"))
    limit = IntegerParam(min_value=1, max_value=100, default=10, help_text=_("返回条数，1–100，默认 10"))


class MapQuerySerializer(serializers.Serializer):
    region = serializers.RegexField(REGION_CODE_RE, required=False, error_messages={"invalid": messages.REGION_CODE},
                                    help_text=_("区域代码；上级区域包含其下辖区域"))
    kind = ChoiceParam(choices=ParkingLot.Kind.choices, required=False)

    def to_internal_value(self, data):
        # Region codes with letters (功能区) are upper case; accept one typed in lower case.
        if isinstance(data.get("region"), str):
            data = data.copy()
            data["region"] = data["region"].strip().upper()
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its offset (SPEC §1: a time without one is rejected)."""

    default_error_messages = {
        "invalid": messages.TIME,
        "naive_datetime": messages.TIME_WITH_OFFSET,
        "out_of_range": _("时间超出可表示的范围"),
        "required": messages.REQUIRED,
    }

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid")
        try:
            return parse_aware(value)
        except TimeInvalid as problem:
            if problem.reason == "out_of_range":
                raise serializers.ValidationError(self.error_messages["out_of_range"], code="invalid") from None
            self.fail("naive_datetime" if problem.reason == "naive" else "invalid")


class QuoteQuerySerializer(serializers.Serializer):
    lot = serializers.CharField(max_length=32, validators=[LOT_CODE_VALIDATOR], help_text=_("停车场编码"),
                                error_messages={"required": messages.REQUIRED, "blank": messages.REQUIRED,
                                                "max_length": LOT_CODE_VALIDATOR.message})
    entry = AwareDateTimeField(help_text=_("入场时间，ISO 8601 带时区偏移"))
    exit = AwareDateTimeField(help_text=_("离场时间，ISO 8601 带时区偏移，不早于入场时间"))
    vehicle_class = ChoiceParam(choices=VEHICLE_CLASSES, default="small",
                                help_text=_("small 小型车（默认），large 大型车"))
    new_energy = BooleanParam(default=False, help_text=_("是否新能源车，默认 false"))

    def to_internal_value(self, data):
        # Lot codes are upper case; accept a code typed in lower case.
        if "lot" in data and isinstance(data.get("lot"), str):
            data = data.copy()
            data["lot"] = data["lot"].strip().upper()
        return super().to_internal_value(data)

    def validate(self, attrs):
        # The pricing's own rule, checked before the lot is looked up (a bad stay is 400 whatever the lot).
        try:
            stay_check(entry=attrs["entry"], exit=attrs["exit"])
        except StayNotPriceable as exc:
            raise quote_input_error(exc) from exc
        return attrs


def quote_input_error(exc: StayNotPriceable) -> serializers.ValidationError:
    """A stay the pricing refuses, answered like any other bad quote parameter ("exit: …")."""
    return serializers.ValidationError({exc.field or "entry": [exc.message]})


class QuoteSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(min_value=0, help_text=_("应付金额（分）"))
