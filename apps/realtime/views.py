"""The public parking map page and its AMap navigation hand-off."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.common.geo import wgs84_to_gcj02
from apps.lots.selectors import public_lots

logger = logging.getLogger(__name__)

AMAP_NAVIGATION_URL = "https://uri.amap.com/navigation"

# Tianditu's WMTS in Web Mercator: "vec" is the street map, "cva" its Chinese labels. CGCS2000
# coincides with WGS-84 to well under a metre, so our stored coordinates sit right on it.
_TIANDITU_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                 "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
                 "&TILECOL={{x}}&tk={key}")


# Wuxi's outline (地级市: the urban districts, 江阴 and 宜兴), coarse — a few kilometres — but
# enough to tell a visitor in Suzhou, Changzhou or Shanghai that "near me" has nothing for them.
# [lat, lon] vertices, WGS-84, clockwise from the north-west on the Yangtze.
CITY_OUTLINE = (
    (32.00, 120.03), (32.02, 120.35), (31.95, 120.45), (31.80, 120.56), (31.62, 120.60), (31.47, 120.55),
    (31.38, 120.40), (31.30, 120.10), (31.10, 119.95), (31.10, 119.65), (31.30, 119.53), (31.52, 119.62),
    (31.58, 119.90), (31.55, 120.05), (31.72, 120.08), (31.85, 120.03),
)


def tile_layers() -> list[dict]:
    """The base layers for Leaflet: OpenStreetMap unless settings.MAP_TILES asks for Tianditu with a key."""
    if settings.MAP_TILES == "tianditu":
        if settings.TIANDITU_KEY:
            options = {"subdomains": "01234567", "maxZoom": 18, "attribution": "© 天地图"}
            return [{"url": _TIANDITU_URL.format(layer=layer, key=settings.TIANDITU_KEY), "options": options}
                    for layer in ("vec", "cva")]
        logger.warning("MAP_TILES=tianditu without TIANDITU_KEY; the map falls back to OpenStreetMap")
    _name, url, options = settings.LEAFLET_CONFIG["TILES"][0]
    return [{"url": url, "options": {"maxZoom": settings.LEAFLET_CONFIG.get("MAX_ZOOM", 19), **options}}]


def _page_text() -> dict[str, str]:
    """Strings map.js shows, translated here so the page has one catalogue."""
    return {
        "loading": _("正在加载停车场…"),
        "loadFailed": _("停车场数据加载失败，请稍后重试"),
        "live": _("实时"),
        "connecting": _("连接中…"),
        "reconnecting": _("已断开，正在重连…"),
        "tilesFailed": _("底图无法加载，停车场位置和余位仍可查看"),
        "tilesFailedShort": _("底图无法加载"),
        "free": _("空余"),
        "total": _("总泊位"),
        "berths": _("个泊位"),
        "lots": _("个停车场"),
        "ev": _("充电"),
        "accessible": _("无障碍"),
        "hours": _("开放时间"),
        "tariff": _("收费标准"),
        "noTariff": _("暂无收费信息"),
        "booking": _("预约"),
        "estimate": _("费用估算"),
        "duration": _("停车时长"),
        "vehicle": _("车型"),
        "small": _("小型车"),
        "large": _("大型车"),
        "newEnergy": _("新能源"),
        "estimated": _("预计"),
        "yuan": _("元"),
        "quoteFailed": _("暂时无法估算"),
        "navigate": _("高德导航"),
        "updated": _("更新于"),
        # %(free)s is the lot's forecast for 30 minutes ahead (map.js puts the number in)
        "forecast30": _("预计30分钟后约 %(free)s 个空位"),
        "status_open": _("有空位"),
        "status_full": _("已满"),
        "status_closed": _("已关闭"),
        "status_offline": _("离线"),
        "nearMe": _("附近"),
        "locating": _("正在定位…"),
        "locateDenied": _("未获得定位权限，请在浏览器或微信设置中允许定位后重试"),
        "locateUnavailable": _("暂时无法获取您的位置，请稍后重试"),
        "locateTimeout": _("定位超时，请稍后重试"),
        "outsideCity": _("您当前不在无锡市范围内，“附近”仅在无锡市内可用"),
        "nearbyTitle": _("附近有空位的停车场"),
        "noneNearby": _("附近暂无有空位的停车场"),
        "minutes": _("分钟"),
        "hoursUnit": _("小时"),
        "allRegions": _("全部区域"),
        "close": _("关闭"),
        "shown": _("显示"),
        "freeUnit": _("空位"),
        "zoomIn": _("放大"),
        "zoomOut": _("缩小"),
    }


@require_GET
def map_page(request):
    config = {
        "center": list(settings.LEAFLET_CONFIG["DEFAULT_CENTER"]),
        "zoom": settings.LEAFLET_CONFIG["DEFAULT_ZOOM"],
        "minZoom": settings.LEAFLET_CONFIG.get("MIN_ZOOM", 8),
        "maxZoom": settings.LEAFLET_CONFIG.get("MAX_ZOOM", 19),
        "tiles": tile_layers(),
        "cityOutline": [list(vertex) for vertex in CITY_OUTLINE],
        # SPEC §4 paths are part of the contract, so the page names them as the spec does.
        "geojsonUrl": "/api/v1/map/lots.geojson",
        "lotUrl": "/api/v1/lots/{code}/",
        "nearestUrl": "/api/v1/lots/nearest",
        "quoteUrl": "/api/v1/fees/quote",
        "wsPath": "/ws/occupancy/",
        "navigateUrl": reverse("realtime:lot-navigate", args=["CODE"]).replace("CODE", "{code}"),
        "text": _page_text(),
    }
    return render(request, "realtime/map.html", {"map_config": config})


@require_GET
def lot_navigate(request, code: str):
    """Hand the driver to AMap's navigation with the lot's GCJ-02 position (AMap's own datum)."""
    lot = get_object_or_404(public_lots(), code=code)
    lat, lon = wgs84_to_gcj02(lot.lat, lot.lon)
    query = urlencode({
        "to": f"{lon:.6f},{lat:.6f},{lot.name}",
        "mode": "car",
        "coordinate": "gaode",
        "callnative": "1",
        "src": "wuxi-parking",
    })
    return HttpResponseRedirect(f"{AMAP_NAVIGATION_URL}?{query}")
