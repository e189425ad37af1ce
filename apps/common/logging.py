"""Logging helpers: a refused request is one line, not a traceback.

Django logs a 403 (PermissionDenied) or a 400 from the exception that caused it, traceback
included; an officer opening a page outside their scope is not a fault of the server. The filter
keeps the line ("Forbidden (Permission denied): /admin/…") and drops the traceback of any response
below 500. Server errors keep theirs.

In production every line is a JSON object (``JsonFormatter``, ``LOG_FORMAT=json``) carrying the id
of the request it was logged in (``RequestIdFilter``; ``apps.common.observability`` sets it).
"""

from __future__ import annotations

import contextvars
import json
import logging
import traceback
from datetime import UTC, datetime


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
        if record.exc_info:
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)
