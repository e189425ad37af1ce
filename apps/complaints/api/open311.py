"""Open311 GeoReport v2 in JSON (SPEC §7): discovery, services, service definitions, requests
(GET list, POST with an ``api_key``) and a request by id. Errors are Open311's array
``[{"code": n, "description": "..."}]``, with the HTTP status of the same number.

A service is one of our categories; a service request is a ticket, ``service_request_id`` its
``ticket_no``. Nothing public carries a phone, a name or a plate."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from apps.common.api.exceptions import body_limit_error
from apps.common.errors import DomainError
from apps.common.times import TimeInvalid, parse_aware

from .. import services, workflow
from ..models import Category, Channel, Ticket
from ..public import open311_status, redact, unit_name
from ..selectors import categories_active, open311_requests

logger = logging.getLogger(__name__)

TAGS = ["open311"]
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00+08:00"
#: Open311's defaults for a request list: the last 90 days, at most 1000 requests
DEFAULT_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
JURISDICTION = getattr(settings, "OPEN311_JURISDICTION", "wuxi.gov.cn")
ATTRIBUTES = [
    {"variable": True, "code": "lot_code", "datatype": "string", "required": False,
     "datatype_description": "停车场编码，如 LX-0001", "order": 1, "description": "停车场 / parking lot code",
     "values": []},
    {"variable": True, "code": "plate", "datatype": "string", "required": False,
     "datatype_description": "车牌号，如 苏B12345（不公开）", "order": 2,
     "description": "车牌 / plate (never published)", "values": []},
]


class Open311Error(Exception):
    def __init__(self, status_code: int, description: str):
        super().__init__(description)
        self.status_code = status_code
        self.description = str(description)


def _errors(status_code: int, description: str) -> Response:
    return Response([{"code": status_code, "description": str(description)}], status=status_code)


class Open311View(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        jurisdiction = request.query_params.get("jurisdiction_id") or (
            _body(request).get("jurisdiction_id") if request.method == "POST" else None)
        if jurisdiction and jurisdiction != JURISDICTION:
            raise Open311Error(404, _("未知的 jurisdiction_id：{value}").format(value=jurisdiction[:64]))

    def handle_exception(self, exc):
        set_rollback()
        if isinstance(exc, Open311Error):
            return _errors(exc.status_code, exc.description)
        if isinstance(exc, DomainError):
            field = exc.details.get("field")
            return _errors(exc.status, f"{field}: {exc.message}" if field else exc.message)
        too_large = body_limit_error(exc)
        if too_large is not None:
            return _errors(too_large[0].status_code, too_large[0].detail)
        if isinstance(exc, exceptions.ValidationError):
            return _errors(400, str(exc.detail))
        if isinstance(exc, exceptions.APIException):
            return _errors(exc.status_code, str(exc.detail))
        logger.exception("unhandled error in Open311 view", exc_info=exc)
        return _errors(500, "服务器内部错误 / internal server error")


def _body(request):
    """The POSTed fields (form-encoded, as Open311 sends them, or a JSON object)."""
    data = request.data
    if not hasattr(data, "get"):
        raise Open311Error(400, _("请求体须为表单字段或 JSON 对象"))
    return data


def _service(category: Category) -> dict:
    return {"service_code": category.code, "service_name": category.name,
            "description": category.description or category.name, "metadata": True, "type": "realtime",
            "keywords": category.names_12345, "group": "停车"}


def _time(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _request(ticket: Ticket) -> dict:
    public = [change for change in ticket.changes.all() if change.public]
    lat, lon = ticket.lat, ticket.lon
    if lat is None and ticket.lot_id:
        lat, lon = ticket.lot.lat, ticket.lot.lon
    return {
        "service_request_id": ticket.ticket_no,
        "status": open311_status(ticket.state),
        "status_notes": redact(public[-1].note) if public else "",
        "service_name": ticket.category.name,
        "service_code": ticket.category.code,
        "description": redact(ticket.description, ticket=ticket),
        "agency_responsible": unit_name(ticket) or "",
        "service_notice": "",
        "requested_datetime": _time(ticket.created_at),
        "updated_datetime": _time(ticket.last_change.at if ticket.last_change_id else ticket.updated_at),
        "expected_datetime": _time(ticket.resolve_by),
        "address": redact(ticket.address, ticket=ticket) or (ticket.lot.name if ticket.lot_id else ""),
        "address_id": ticket.lot.code if ticket.lot_id else "",
        "zipcode": "",
        "lat": lat,
        "long": lon,
        "media_url": "",
    }


def _requests():
    return open311_requests().select_related("lot", "last_change")


class DiscoveryView(Open311View):
    @extend_schema(tags=TAGS, summary="Open311 discovery",
                   operation_id="open311_discovery", responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response({
            "changeset": CHANGESET,
            "contact": "无锡市停车服务热线 / Wuxi parking hotline",
            "key_service": "api_key 由市停车服务热线办公室发放 / api keys are issued by the city's hotline office",
            "endpoints": [{"specification": SPECIFICATION, "url": request.build_absolute_uri("/open311/v2"),
                           "changeset": CHANGESET, "type": "production", "formats": ["application/json"]}],
        })


class ServiceListView(Open311View):
    @extend_schema(tags=TAGS, summary="Open311 services (our categories)",
                   operation_id="open311_services", responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response([_service(category) for category in categories_active()])


class ServiceDefinitionView(Open311View):
    @extend_schema(tags=TAGS, summary="Open311 service definition",
                   operation_id="open311_service", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, code: str):
        category = categories_active().filter(code=code).first()
        if category is None:
            raise Open311Error(404, _("未知的 service_code：{code}").format(code=code[:32]))
        return Response({"service_code": category.code, "attributes": ATTRIBUTES})


def _parse_time(name: str, value: str) -> datetime:
    try:
        return parse_aware(value)
    except TimeInvalid:
        raise Open311Error(400, _("{name} 须为带时区偏移的 ISO 8601 时间，如 2026-03-17T09:42:44+08:00").format(
            name=name)) from None


class RequestListView(Open311View):
    FILTERS = frozenset({"service_request_id", "service_code", "status", "start_date", "end_date", "jurisdiction_id"})

    @extend_schema(tags=TAGS, summary="Open311 service requests",
                   operation_id="open311_requests_list", responses={200: OpenApiTypes.OBJECT},
                   parameters=[OpenApiParameter(name, str, required=False) for name in sorted(FILTERS)])
    def get(self, request):
        params = request.query_params
        unknown = sorted(set(params) - self.FILTERS)
        if unknown:
            raise Open311Error(400, _("未知的参数：{names}").format(names="、".join(n[:32] for n in unknown)))
        rows = _requests()
        if params.get("service_request_id"):
            ids = [value.strip().upper() for value in params["service_request_id"].split(",") if value.strip()]
            return Response([_request(t) for t in rows.filter(ticket_no__in=ids[:MAX_REQUESTS])])
        if params.get("service_code"):
            codes = [value.strip() for value in params["service_code"].split(",") if value.strip()]
            rows = rows.filter(category__code__in=codes)
        if params.get("status"):
            wanted = {value.strip() for value in params["status"].split(",")}
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, _("status 须为 open 或 closed"))
            if wanted == {"open"}:
                rows = rows.exclude(state__in=workflow.DONE_STATES)
            elif wanted == {"closed"}:
                rows = rows.filter(state__in=workflow.DONE_STATES)
        end = _parse_time("end_date", params["end_date"]) if params.get("end_date") else None
        start = _parse_time("start_date", params["start_date"]) if params.get("start_date") else None
        if start is None and end is None:
            start = timezone.now() - DEFAULT_SPAN
        if start and end and start > end:
            raise Open311Error(400, _("start_date 不能晚于 end_date"))
        if start:
            rows = rows.filter(created_at__gte=start)
        if end:
            rows = rows.filter(created_at__lte=end)
        return Response([_request(ticket) for ticket in rows.order_by("-created_at", "-pk")[:MAX_REQUESTS]])

    @extend_schema(tags=TAGS, summary="Open311: create a service request (needs api_key)",
                   operation_id="open311_requests_create",
                   request={"application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
                   responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _body(request)
        key = services.open311_key_find(data.get("api_key"))
        if key is None:
            raise Open311Error(403, _("api_key 无效或缺失 / invalid api_key"))
        code = (data.get("service_code") or "").strip()
        if not code:
            raise Open311Error(400, _("缺少 service_code"))
        if not categories_active().filter(code=code).exists():
            raise Open311Error(404, _("未知的 service_code：{code}").format(code=code[:32]))
        lat, lon = data.get("lat"), data.get("long")
        lot = (data.get("attribute[lot_code]") or data.get("address_id") or "").strip() or None
        address = (data.get("address_string") or "").strip()
        if (lat in (None, "")) != (lon in (None, "")):
            raise Open311Error(400, _("lat 和 long 须同时提供"))
        if lat in (None, "") and not address and not lot:
            raise Open311Error(400, _("须提供位置：lat 和 long、address_string 或 address_id 之一"))
        try:
            lat = float(lat) if lat not in (None, "") else None
            lon = float(lon) if lon not in (None, "") else None
        except (TypeError, ValueError) as exc:
            raise Open311Error(400, _("lat 和 long 须为数字")) from exc
        name = " ".join(part for part in (data.get("last_name"), data.get("first_name")) if part).strip()
        ticket = services.ticket_create(
            channel=Channel.OPEN311, category=code, description=data.get("description") or "",
            phone=data.get("phone") or "", caller_name=name, plate=data.get("attribute[plate]") or "",
            lot=lot, lat=lat, lon=lon, address=address, open311_key=key)
        return Response([{"service_request_id": ticket.ticket_no, "service_notice": "", "account_id": None}],
                        status=status.HTTP_201_CREATED)


class RequestDetailView(Open311View):
    @extend_schema(tags=TAGS, summary="Open311 service request by id",
                   operation_id="open311_request", responses={200: OpenApiTypes.OBJECT})
    def get(self, request, request_id: str):
        ticket = _requests().filter(ticket_no=request_id.strip().upper()).first()
        if ticket is None:
            raise Open311Error(404, _("未找到服务请求 {id}").format(id=request_id[:32]))
        return Response([_request(ticket)])


def not_found(request, exception=None):
    """An unknown path under /open311/ answers in Open311's error array, as its views do."""
    from django.http import JsonResponse

    return JsonResponse([{"code": 404, "description": "未找到 / not found"}], status=404, safe=False)
