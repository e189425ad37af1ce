"""Query parameters of the public API: fields that word their errors the shared way (``apps.common.messages``;
the exception handler gives every malformed value the code ``invalid``) and the rule that a parameter an
endpoint does not take is an error, not silently ignored."""

from __future__ import annotations

import math

from rest_framework import serializers
from rest_framework.settings import api_settings

from apps.common import messages
from apps.common.errors import DomainError


class IntegerParam(serializers.IntegerField):
    def __init__(self, **kwargs):
        message = messages.integer_rule(kwargs.get("min_value"), kwargs.get("max_value"))
        kwargs["error_messages"] = {"invalid": message, "min_value": message, "max_value": message,
                                    "max_string_length": message, "required": messages.REQUIRED,
                                    **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)


class NumberParam(serializers.FloatField):
    """A finite number: ``nan`` and ``inf`` are refused like any other non-number."""

    def __init__(self, **kwargs):
        message = messages.number_rule(kwargs.get("min_value"), kwargs.get("max_value"))
        kwargs["error_messages"] = {"invalid": message, "min_value": message, "max_value": message,
                                    "max_string_length": message, "required": messages.REQUIRED,
                                    **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class ChoiceParam(serializers.ChoiceField):
    def __init__(self, choices, **kwargs):
        kwargs["error_messages"] = {"invalid_choice": messages.one_of_rule(choices), "required": messages.REQUIRED,
                                    **kwargs.get("error_messages", {})}
        super().__init__(choices, **kwargs)


class BooleanParam(serializers.BooleanField):
    """true or false (also 1/0, yes/no, as the lot list's filters)."""

    TRUE_VALUES = frozenset({"true", "1", "yes", True})  # DRF lower-cases a string before looking
    FALSE_VALUES = frozenset({"false", "0", "no", False})

    def __init__(self, **kwargs):
        kwargs["error_messages"] = {"invalid": messages.BOOLEAN, "required": messages.REQUIRED,
                                    **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)


class UnknownParameter(DomainError):
    code = "unknown_parameter"
    status = 400


class StrictQueryParamsMixin:
    """For DRF views: a query parameter the endpoint does not take is a 400 naming it. Silently
    ignoring ``status=bogus`` or ``radius=-5`` answers a question the client did not ask.

    The parameters an endpoint takes are its FilterSet's, its pagination's (list views, and views that
    page with ``paginate_queryset`` and say ``paginated = True``), the fields of its
    ``query_serializer_classes`` and DRF's ``format``.
    """

    query_serializer_classes: tuple[type[serializers.Serializer], ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        allowed = allowed_query_params(type(self))
        for name in request.query_params:
            if name not in allowed:
                raise _unknown(name, allowed)


class StrictBodySerializer(serializers.Serializer):
    """A request body's serializer for which a field it does not take is a 400 naming it
    (``unknown_parameter``, as for a query parameter), never silently dropped: ``{"amount_fen": 1}``
    beside the debts of an order, or a misspelt ``sesion_ids``, must not look accepted."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            allowed = frozenset(name for name, field in self.fields.items() if not field.read_only)
            unknown = sorted(str(name) for name in data if name not in allowed)
            if unknown:
                raise _unknown_field(unknown[0], allowed)
        return super().to_internal_value(data)


def _unknown_field(name: str, allowed: frozenset[str]) -> UnknownParameter:
    name = name[:64]
    message = messages.rule(messages.UNKNOWN_FIELD, name=name, allowed="、".join(sorted(allowed)))
    return UnknownParameter(message, field=name, details={"allowed": sorted(allowed)})


_ALLOWED: dict[type, frozenset[str]] = {}


def allowed_query_params(view_class: type) -> frozenset[str]:
    if view_class not in _ALLOWED:
        names: set[str] = set()
        if api_settings.URL_FORMAT_OVERRIDE:
            names.add(api_settings.URL_FORMAT_OVERRIDE)
        filterset_class = getattr(view_class, "filterset_class", None)
        if filterset_class is not None:
            names.update(filterset_class.base_filters)
        paginator = getattr(view_class, "pagination_class", None)
        if paginator is not None and (hasattr(view_class, "list") or getattr(view_class, "paginated", False)):
            for attribute in ("page_query_param", "page_size_query_param", "limit_query_param",
                              "offset_query_param", "cursor_query_param"):
                if getattr(paginator, attribute, None):
                    names.add(getattr(paginator, attribute))
        for serializer_class in getattr(view_class, "query_serializer_classes", ()):
            names.update(serializer_class().fields)
        _ALLOWED[view_class] = frozenset(names)
    return _ALLOWED[view_class]


def _unknown(name: str, allowed: frozenset[str]) -> UnknownParameter:
    name = name[:64]
    shown = sorted(allowed - {api_settings.URL_FORMAT_OVERRIDE})
    if shown:
        message = messages.rule(messages.UNKNOWN_PARAMETER, name=name, allowed="、".join(shown))
    else:
        message = messages.rule(messages.UNKNOWN_PARAMETER_NONE, name=name)
    return UnknownParameter(message, field=name, details={"allowed": shown})
