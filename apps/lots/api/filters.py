"""Filters of the public lot list (SPEC §4). A malformed value is a 400 naming the parameter,
never silently ignored: a client that asked for ``has_ev=yes-please`` must not get every lot."""

from __future__ import annotations

import math

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from apps.common import messages
from apps.common.geo import BBox

from ..models import ParkingLot
from ..selectors import region_ids_for_code

REGION_CODE_RE = r"^[0-9A-Z]{6,12}$"

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class StrictBooleanField(forms.Field):
    """true/false (also 1/0, yes/no); anything else is an error, not "no filter"."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValidationError(messages.BOOLEAN, code="invalid")


class RegionCodeField(forms.RegexField):
    """A region code → the ids of that region and every region below it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"invalid": messages.REGION_CODE})
        super().__init__(REGION_CODE_RE, **kwargs)

    def clean(self, value):
        code = super().clean((value or "").strip().upper())
        if not code:
            return None
        ids = region_ids_for_code(code)
        if ids is None:
            raise ValidationError(messages.UNKNOWN_REGION, code="unknown_region", params={"code": code})
        return ids


class BBoxField(forms.CharField):
    """``minLon,minLat,maxLon,maxLat`` in WGS-84 degrees (SPEC §4), as an ``apps.common.geo.BBox``.
    ``minLon > maxLon`` is a box across the antimeridian, as in ``geo.bbox_contains``."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        parts = value.split(",")
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
            raise ValidationError(messages.BBOX_TEXT, code="invalid")
        box = BBox(*numbers)
        if not (-180 <= box.min_lon <= 180 and -180 <= box.max_lon <= 180):
            raise ValidationError(messages.LONGITUDE, code="invalid")
        if not (-90 <= box.min_lat <= 90 and -90 <= box.max_lat <= 90):
            raise ValidationError(messages.LATITUDE, code="invalid")
        if box.min_lat > box.max_lat:
            raise ValidationError(messages.MIN_LAT_ABOVE_MAX, code="invalid")
        return box


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # django-filter's BooleanWidget turns any unknown word into "no filter"; keep the raw text.
        kwargs["widget"] = forms.TextInput
        super().__init__(*args, **kwargs)


class RegionFilter(filters.Filter):
    field_class = RegionCodeField
    schema = {"type": "string", "pattern": REGION_CODE_RE}


class BBoxFilter(filters.Filter):
    field_class = BBoxField
    schema = {"type": "string", "pattern": r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
              "example": "120.28,31.55,120.33,31.60"}


class CountFilter(filters.NumberFilter):
    """A whole number of berths, 0 or more."""

    field_class = forms.IntegerField
    schema = {"type": "integer", "minimum": 0}

    def __init__(self, *args, **kwargs):
        message = messages.integer_rule(kwargs.get("min_value"), kwargs.get("max_value"))
        kwargs["error_messages"] = {"invalid": message, "min_value": message, "max_value": message}
        super().__init__(*args, **kwargs)


def _documented(filter_):
    """drf-spectacular takes a filter's schema from an override but then drops its help text:
    put the help text into the override."""
    return extend_schema_field({**filter_.schema, "description": filter_.extra["help_text"]})(filter_)


class LotFilter(filters.FilterSet):
    region = _documented(RegionFilter(
        method="filter_region",
        help_text=_("区域代码（GB/T 2260）；上级区域包含其下辖区域，如 320200 为全市"),
    ))
    kind = filters.ChoiceFilter(choices=ParkingLot.Kind.choices,
                                error_messages={"invalid_choice": messages.one_of_rule(ParkingLot.Kind.choices)},
                                help_text=_("off_street 路外停车场，on_street 道路泊位"))
    has_ev = StrictBooleanFilter(method="filter_has_ev", help_text=_("true：有充电泊位；false：没有"))
    has_accessible = StrictBooleanFilter(method="filter_has_accessible",
                                         help_text=_("true：有无障碍泊位；false：没有"))
    min_free = _documented(CountFilter(
        method="filter_min_free", min_value=0,
        help_text=_("至少有这么多空余泊位；大于 0 时只返回开放且在线的停车场（关闭或离线的余位不可信）"),
    ))
    bbox = _documented(BBoxFilter(method="filter_bbox", help_text=_("范围 minLon,minLat,maxLon,maxLat（WGS-84）")))
    q = filters.CharFilter(method="filter_q", max_length=100,
                           error_messages={"max_length": messages.rule(messages.TOO_LONG, max=100)},
                           help_text=_("按名称搜索（也匹配地址和编码）"))

    class Meta:
        model = ParkingLot
        fields: list[str] = []

    def filter_region(self, queryset, name, value):
        return queryset.filter(region_id__in=value)

    def filter_has_ev(self, queryset, name, value):
        return queryset.filter(ev_berths__gt=0) if value else queryset.filter(ev_berths=0)

    def filter_has_accessible(self, queryset, name, value):
        return queryset.filter(accessible_berths__gt=0) if value else queryset.filter(accessible_berths=0)

    def filter_min_free(self, queryset, name, value):
        if value <= 0:
            return queryset
        return queryset.filter(free_berths__gte=value, status=ParkingLot.Status.OPEN, offline_since__isnull=True)

    def filter_bbox(self, queryset, name, value: BBox):
        queryset = queryset.filter(lat__gte=value.min_lat, lat__lte=value.max_lat)
        if value.min_lon <= value.max_lon:
            return queryset.filter(lon__gte=value.min_lon, lon__lte=value.max_lon)
        return queryset.filter(Q(lon__gte=value.min_lon) | Q(lon__lte=value.max_lon))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(address__icontains=value) | Q(code__icontains=value))


class NearestLotFilter(LotFilter):
    """The list's filters for ``lots/nearest``, where ``min_free`` defaults to 1 (SPEC §4)."""

    min_free = _documented(CountFilter(
        method="filter_min_free", min_value=0,
        help_text=_("至少有这么多空余泊位，默认 1；大于 0 时只返回开放且在线的停车场；0 表示不限"),
    ))

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        if not data.get("min_free"):
            data["min_free"] = "1"
        super().__init__(data, *args, **kwargs)

