"""A lot's position in the admin: two number inputs and a Leaflet map that fills them.

Ours, not django-leaflet's form widget: that one is a GeoDjango widget and needs GDAL, while lots
store plain WGS-84 ``lat``/``lon``. Leaflet itself is served from django-leaflet's static files
(no CDN: the admin also runs on closed government networks). The inputs are ordinary form inputs,
so the form works when tiles or scripts don't load.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

__all__ = ["CoordinatesField", "CoordinatesWidget", "map_tile_layers"]

_TIANDITU_URL = "https://t{s}.tianditu.gov.cn/DataServer?T=%s_w&x={x}&y={y}&l={z}&tk=%s"


def map_tile_layers() -> list[dict]:
    """Base layers for Leaflet from ``MAP_TILES``: OpenStreetMap, or 天地图 with ``TIANDITU_KEY``.

    Both are WGS-84 (天地图's CGCS2000 differs by centimetres), so a click on the map is a WGS-84
    coordinate; a GCJ-02 base map (AMap, Tencent) would put every marker ~500 m off.
    """
    if settings.MAP_TILES == "tianditu" and settings.TIANDITU_KEY:
        attribution = "© 天地图"
        subdomains = "01234567"
        return [
            {"url": _TIANDITU_URL % ("vec", settings.TIANDITU_KEY), "subdomains": subdomains,
             "attribution": attribution, "maxZoom": 18},
            {"url": _TIANDITU_URL % ("cva", settings.TIANDITU_KEY), "subdomains": subdomains,
             "attribution": attribution, "maxZoom": 18},
        ]
    return [{"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "subdomains": "abc",
             "attribution": "© OpenStreetMap contributors", "maxZoom": 19}]


class CoordinatesWidget(forms.MultiWidget):
    """Latitude and longitude inputs with a map: click or drag the marker to set both.

    ``coord_system_input`` names a sibling select (e.g. "entered as GCJ-02"): a point picked on the
    map is WGS-84, so picking one sets that select back to WGS-84.
    """

    template_name = "lots/widgets/coordinates.html"

    class Media:
        css = {"all": ("leaflet/leaflet.css", "lots/coordinates.css")}
        js = ("leaflet/leaflet.js", "lots/coordinates.js")

    def __init__(self, attrs=None, *, coord_system_input: str | None = None):
        number = {"step": "0.000001", "inputmode": "decimal", "class": "wxp-coord"}
        widgets = {
            "lat": forms.NumberInput(attrs={**number, "placeholder": _("纬度"), "aria-label": _("纬度")}),
            "lon": forms.NumberInput(attrs={**number, "placeholder": _("经度"), "aria-label": _("经度")}),
        }
        self.coord_system_input = coord_system_input
        super().__init__(widgets, attrs)

    def decompress(self, value):
        if value:
            return [value[0], value[1]]
        return [None, None]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        center = getattr(settings, "LEAFLET_CONFIG", {}).get("DEFAULT_CENTER", (31.57, 120.30))
        context["map_config"] = json.dumps({
            "tiles": map_tile_layers(),
            "center": list(center),
            "zoom": 12,
            "coordSystemInput": self.coord_system_input or "",
        })
        return context


class CoordinatesField(forms.MultiValueField):
    """A WGS-84 (or, with the coordinate-system choice, GCJ-02) point as ``(lat, lon)``."""

    widget = CoordinatesWidget
    default_error_messages = {
        "incomplete": _("请同时填写纬度和经度"),
        "invalid": _("请输入有效的坐标"),
    }

    def __init__(self, **kwargs):
        fields = (
            forms.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)],
                             error_messages={"invalid": _("纬度须为数字")}),
            forms.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)],
                             error_messages={"invalid": _("经度须为数字")}),
        )
        kwargs.setdefault("require_all_fields", True)
        super().__init__(fields, **kwargs)

    def compress(self, data_list):
        if not data_list:
            return None
        return (data_list[0], data_list[1])
