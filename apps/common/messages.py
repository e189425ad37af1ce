"""The wording of validation messages: one sentence per rule, whoever checks it.

A client (or a member of staff reading an import report) should read the same rule the same way
whether the API, a filter, the pagination or the ingest refused the value: "须为 1 到 100 之间的整数",
not Django's, DRF's and our own three phrasings of it. ``rule(MESSAGE, min=…)`` fills a message in
lazily, so that it is translated in the language of the request that reads it.
"""

from __future__ import annotations

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

REQUIRED = _("必填")
STRING = _("须为字符串")
INTEGER = _("须为整数")
INTEGER_AT_LEAST = _("须为不小于 %(min)s 的整数")
INTEGER_AT_MOST = _("须为不大于 %(max)s 的整数")
INTEGER_BETWEEN = _("须为 %(min)s 到 %(max)s 之间的整数")
NUMBER = _("须为数字")
NUMBER_BETWEEN = _("须为 %(min)s 到 %(max)s 之间的数字")
BOOLEAN = _("须为 true 或 false")
ONE_OF = _("须为 %(choices)s 之一")
TOO_LONG = _("不能超过 %(max)s 个字符")
UNKNOWN_PARAMETER = _("未知的参数 %(name)s；可用的参数：%(allowed)s")
UNKNOWN_PARAMETER_NONE = _("未知的参数 %(name)s；此接口不接受查询参数")
UNKNOWN_FIELD = _("未知的字段 %(name)s；可用的字段：%(allowed)s")
TIME = _("须为 ISO 8601 时间，如 2026-03-17T09:42:44+08:00")
TIME_WITH_OFFSET = _("须带时区偏移，如 2026-03-17T09:42:44+08:00")
LONGITUDE = _("经度须为 -180 到 180 之间的数字")
LATITUDE = _("纬度须为 -90 到 90 之间的数字")
MIN_LAT_ABOVE_MAX = _("minLat 不能大于 maxLat")
BBOX_TEXT = _("须为 minLon,minLat,maxLon,maxLat 四个数字（逗号分隔）")
BBOX_ARRAY = _("须为 [minLon, minLat, maxLon, maxLat] 四个数字")
REGION_CODE = _("区域代码为 6–12 位数字或大写字母")
UNKNOWN_REGION = _("未知的区域代码 %(code)s")


def for_field(name: str, message) -> str:
    """A message that names its field itself (where no handler prefixes it): "type: 须为 …"."""
    return f"{name}: {message}"


def _fill(template, params: dict) -> str:
    return str(template) % params


_fill_lazy = lazy(_fill, str)


def rule(template, **params):
    """``template`` filled with ``params`` when it is read (so in the reader's language)."""
    return _fill_lazy(template, params)


def integer_rule(min_value: int | None = None, max_value: int | None = None):
    """The one message for "an integer, within these bounds"."""
    if min_value is not None and max_value is not None:
        return rule(INTEGER_BETWEEN, min=min_value, max=max_value)
    if min_value is not None:
        return rule(INTEGER_AT_LEAST, min=min_value)
    if max_value is not None:
        return rule(INTEGER_AT_MOST, max=max_value)
    return INTEGER


def number_rule(min_value: float | None = None, max_value: float | None = None):
    if min_value is not None and max_value is not None:
        return rule(NUMBER_BETWEEN, min=_plain_number(min_value), max=_plain_number(max_value))
    return NUMBER


def one_of_rule(choices) -> object:
    """``choices``: values, or (value, label) pairs as in model choices; the values are listed."""
    values = [choice[0] if isinstance(choice, (tuple, list)) else choice for choice in choices]
    return rule(ONE_OF, choices="、".join(str(value) for value in values))


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
