"""Logging helpers: a refused request is one line, not a traceback.

Django logs a 403 (PermissionDenied) or a 400 from the exception that caused it, traceback
included; an officer opening a page outside their scope is not a fault of the server. The filter
keeps the line ("Forbidden (Permission denied): /admin/…") and drops the traceback of any response
below 500. Server errors keep theirs.
"""

from __future__ import annotations

import logging


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
