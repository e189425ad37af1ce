"""Logging helpers: a refused request is one line, not a traceback.

Django logs a 403 (PermissionDenied) or a 400 from the exception that caused it, traceback
included; an officer opening a page outside their scope is not a fault of the server. The filter
keeps the line ("Forbidden (Permission denied): /admin/…") and drops the traceback of any response
below 500. Server errors keep theirs.

In production every line is a JSON object (``JsonFormatter``, ``LOG_FORMAT=json``) carrying the id
of the request it was logged in (``RequestIdFilter``; ``apps.common.observability`` sets it).

No line carries a full plate (PIPL, docs/privacy.md): ``MaskPlates``, the handler's last filter,
masks every plate-shaped string (``apps.common.plates.SEARCH``, shown as ``mask`` shows it) in the
message, in the ``extra`` fields and in the traceback, percent-encoded ones in request paths and
query strings included (``/api/v1/pay/due?plate=%E8%8B%8FB12345``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import traceback
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from apps.common import plates


class OneLineRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500 and record.exc_info:
            exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else record.exc_info
            record.exc_info = None
            record.exc_text = None
            if exc is not None and str(exc) and str(exc) not in record.getMessage():
                record.msg = f"{record.msg} ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        return True


# --- structured logs with the request's id (issue 12 item 6) --------------------------------
# The id of the request being served (contextvars follow it into sync_to_async threads); "-" outside one.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# What LogRecord carries by itself; anything else on a record was passed as ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Give every record the id of the request it was logged in (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, the
    ``extra`` fields that are plain values, and the traceback as one string when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and isinstance(value, str | int | float | bool | None):
                entry[key] = value
        if record.exc_text:  # already formatted (and masked) by a filter
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


# --- no full plate in any log line (issue 12 item 4, PIPL) ------------------------------------------
# A run of URL-escaped characters (with the letters and digits around it): a plate in a path or a
# query string arrives as %E8%8B%8FB12345.
_ESCAPED = re.compile(r"[A-Za-z0-9]*(?:%[0-9A-Fa-f]{2})+[A-Za-z0-9%+]*")


def _mask_match(match: re.Match) -> str:
    try:
        return plates.mask(match.group(0))
    except plates.PlateError:  # the pattern found it, so it is one; never echo it if mask disagrees
        return "*" * len(match.group(0))


def _mask_escaped(match: re.Match) -> str:
    text = match.group(0)
    decoded = unquote(text.replace("+", " "))
    masked = plates.SEARCH.sub(_mask_match, decoded)
    return text if masked == decoded else quote(masked, safe="*")


# Django's request log writes a path's non-ASCII characters as \uXXXX (log_response escapes them).
_UNICODE_ESCAPED = re.compile(r"(?:\\u[0-9a-fA-F]{4}|[A-Za-z0-9])+")
_ONE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _mask_unicode_escaped(match: re.Match) -> str:
    text = match.group(0)
    if "\\u" not in text:
        return text
    decoded = _ONE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    masked = plates.SEARCH.sub(_mask_match, decoded)
    if masked == decoded:
        return text
    return "".join(ch if ch.isascii() else f"\\u{ord(ch):04x}" for ch in masked)


def mask_plates(text: str) -> str:
    """``text`` with every plate in it masked (苏B12345 → 苏B***45), escaped plates (``%E8%8B%8F``,
    ``\\u82cf``) too."""
    if "%" in text:
        text = _ESCAPED.sub(_mask_escaped, text)
    if "\\u" in text:
        text = _UNICODE_ESCAPED.sub(_mask_unicode_escaped, text)
    return plates.SEARCH.sub(_mask_match, text)


def _mask_value(value):
    if isinstance(value, str):
        return mask_plates(value)
    if type(value) in (list, tuple):
        return type(value)(_mask_value(v) for v in value)
    if type(value) is dict:
        return {k: _mask_value(v) for k, v in value.items()}
    return value


class MaskPlates(logging.Filter):
    """Mask plates in a record's message, its ``extra`` fields and its traceback (see the module's
    docstring). It formats the message once (``msg % args``) and keeps the result; a record with no
    plate is left as it was."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_plates(message)
        if masked != message:
            record.msg, record.args = masked, ()
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str | list | tuple | dict):
                setattr(record, key, _mask_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_plates(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_plates(record.stack_info)
        return True
