"""Calls to the shared cache (Redis in production) that survive its outage.

The cache speeds things up and shares short-lived state between server processes; none of what
uses it may stop working when Redis is unreachable. These wrappers turn any failure of the backend
into a plain answer (``None``: "the cache could not say") and log it as one warning line a minute,
not a traceback per request; the callers decide what to do instead.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

from .outage import Outage

logger = logging.getLogger(__name__)

outage = Outage(logger, service="the cache",
                consequence="ingest records nonces in the database and the map snapshot is built from it")


def _call(method: str, *args, **kwargs) -> Any:
    try:
        result = getattr(cache, method)(*args, **kwargs)
    except Exception as exc:  # any failure of the backend: refused, timed out, out of memory, read-only
        outage.failed(exc)
        return None
    outage.answered()
    return result


def cache_get(key: str) -> Any:
    """The cached value, or None when there is none or the cache cannot be reached."""
    return _call("get", key)


def cache_add(key: str, value: Any, *, timeout: float) -> bool | None:
    """True if the key was added, False if it was there already, None if the cache cannot be reached."""
    return _call("add", key, value, timeout=timeout)


def cache_set(key: str, value: Any, *, timeout: float) -> None:
    _call("set", key, value, timeout=timeout)


def cache_set_many(values: dict[str, Any], *, timeout: float) -> None:
    _call("set_many", values, timeout=timeout)


def cache_delete(key: str) -> None:
    _call("delete", key)
