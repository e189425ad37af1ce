"""Every error leaves the API in SPEC §1's shape: one DRF exception handler for the views, and one
middleware for what Django answers before or around a view (a path no URL matches, a method a
plain view refuses), which with DEBUG on would otherwise be Django's HTML pages."""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.common.db import DATABASE_UNAVAILABLE, RETRY_AFTER_S, unavailable_body, unavailable_json_response
from apps.common.db import outage as database_outage
from apps.common.errors import DomainError, error_body

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.ParseError: "invalid_json",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


# What DRF and Django call their own checks of a value's form: to a client all are "invalid" (the message
# says the rule, ``details.field`` the parameter). A missing value is "invalid" too, as it always was here.
_GENERIC_CODES = frozenset({
    "invalid", "required", "null", "blank", "min_value", "max_value", "invalid_choice", "max_length",
    "min_length", "max_string_length", "empty", "not_a_list", "not_a_dict", "max_digits", "max_decimal_places",
    "max_whole_digits", "overflow", "date", "datetime", "make_aware",
})


def _first_field_error(detail, prefix=""):
    """Return (field path, message) of the first error in a DRF ValidationError detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                path = prefix
            return _first_field_error(value, path)
    if isinstance(detail, list) and detail:
        for index, item in enumerate(detail):
            if item:
                if isinstance(item, (dict, list)):
                    return _first_field_error(item, f"{prefix}[{index}]")
                return prefix, str(item)
    return prefix, str(detail)


def _plain(detail):
    if isinstance(detail, dict):
        return {key: _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(item) for item in detail]
    return str(detail)


class TooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"
    default_detail = "请求体过大 / request body too large"


def body_limit_error(exc):
    """Django's refusal of a body it will not read (``RequestDataTooBig`` and its kin), as a 413 the
    client can act on; ``None`` for anything else. Used by every face: the API, Open311, the callbacks."""
    if isinstance(exc, RequestDataTooBig):
        return TooLarge(), {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    if isinstance(exc, TooManyFieldsSent):
        return TooLarge("字段过多 / too many fields"), {"max_fields": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}
    if isinstance(exc, TooManyFilesSent):
        return TooLarge("文件过多 / too many files"), {"max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES}
    return None


def exception_handler(exc, context):
    response = _error_response(exc)
    _render_as_json(context.get("request"))
    return response


def _render_as_json(request) -> None:
    """An error body is JSON, also from a view whose success is GeoJSON or JSON-LD: a client that asked
    for ``application/geo+json`` must not be told that an error document is a FeatureCollection. The
    browsable API (DEBUG) keeps its HTML page."""
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is None or renderer.media_type in ("application/json", "text/html"):
        return
    request.accepted_renderer = JSONRenderer()
    request.accepted_media_type = JSONRenderer.media_type


def _error_response(exc):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    too_large = body_limit_error(exc)
    if too_large is not None:
        set_rollback()
        exc, details = too_large
        return Response(error_body(exc.default_code, str(exc.detail), details), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(getattr(exc, "message_dict", None) or exc.messages)

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        field, message = _first_field_error(exc.detail)
        code = "invalid"
        # Serializers can name a more specific code on the error they raise.
        codes = exc.get_codes()
        while isinstance(codes, (dict, list)) and codes:
            codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
        if isinstance(codes, str) and codes not in _GENERIC_CODES:
            code = codes
        details = {"fields": _plain(exc.detail)}
        if field:
            details["field"] = field
            message = f"{field}: {message}"
        return Response(error_body(code, message, details), status=status.HTTP_400_BAD_REQUEST)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), exc.default_code)
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)

    if isinstance(exc, DATABASE_UNAVAILABLE):
        # The database is down or restarting: the client should come back, not report a bug.
        set_rollback()
        database_outage.failed(exc)
        response = Response(unavailable_body(), status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
        response._has_been_logged = True  # the outage says it once a minute; django.request would say it each time
        return response

    # Unexpected: log it, answer without leaking anything.
    logger.exception("unhandled error in API view", exc_info=exc)
    set_rollback()
    return Response(error_body("server_error", "服务器内部错误 / internal server error"), status=500)


class ErrorInfoSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="snake_case error code, stable for clients")
    message = serializers.CharField(help_text="human-readable message, Chinese or English")
    details = serializers.DictField(help_text="more about the error, e.g. `field`: the parameter at fault")


# In the OpenAPI schema as the component ``Error``.
class ErrorSerializer(serializers.Serializer):
    """Every error response (SPEC §1): `{"error": {"code", "message", "details"}}`."""

    error = ErrorInfoSerializer()


_ERROR_DESCRIPTIONS = {
    400: "Bad input (the parameter at fault is in `error.details.field`; a query parameter or body field the "
         "endpoint does not take is `unknown_parameter`, with the ones it takes in `error.details.allowed`)",
    401: "Bad or missing signature or credentials",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Too large",
    429: "Rate limited",
    503: "The database is unavailable for a moment: retry after `Retry-After` seconds",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """``extend_schema(responses=...)`` entries for these error statuses, all with the ``Error`` body."""
    return {code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS.get(code, "Error"))
            for code in statuses}


def json_404(request, exception=None):
    return JsonResponse(error_body("not_found", "未找到 / not found"), status=404)


def json_500(request):
    # Django calls its 500 handler inside the ``except`` of what failed (a middleware, say).
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return unavailable_json_response(exc)
    return JsonResponse(error_body("server_error", "服务器内部错误 / internal server error"), status=500)


_MIDDLEWARE_CODES = {400: "bad_request", 403: "permission_denied", 404: "not_found", 405: "method_not_allowed",
                     413: "too_large"}


class APIErrorBodyMiddleware:
    """Under ``/api/``, an error Django answered with an HTML page gets SPEC §1's JSON body instead.

    With DEBUG off an unknown path reaches ``handler404`` (already JSON); with DEBUG on Django answers it
    with its technical 404 page, and a plain view refusing a method answers an empty ``text/html`` 405
    in either mode. DRF views never get here: their errors are JSON already. Server errors are left to
    ``handler500`` (DEBUG off) or to the debug page a developer wants (DEBUG on).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (400 <= response.status_code < 500 and request.path_info.startswith("/api/")
                and not response.streaming and not _is_json(response)):
            return _as_spec_error(request, response)
        return response


def _is_json(response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    return content_type == "application/json" or content_type.endswith("+json")


def _as_spec_error(request, response):
    status_code = response.status_code
    if status_code == 404:
        replacement = json_404(request)
    else:
        message = exceptions.MethodNotAllowed(request.method).detail if status_code == 405 else response.reason_phrase
        code = _MIDDLEWARE_CODES.get(status_code, "bad_request")
        replacement = JsonResponse(error_body(code, message), status=status_code)
    for header in ("Allow", "Retry-After", "WWW-Authenticate", "Vary"):
        if header in response:
            replacement[header] = response[header]
    return replacement
