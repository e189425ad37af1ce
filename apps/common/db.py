"""Riding out a database restart or outage (issue 6 item 7).

- Connections are checked before the pool hands them out (settings: ``CONN_HEALTH_CHECKS``, which
  Django turns into psycopg_pool's ``check``), so one the server dropped is replaced, not used.
- ``retry_once_if_connection_lost`` runs a unit of work again, once, on a fresh connection when the
  one it had broke under it and no transaction of a caller is open (so nothing was done yet: the
  work's own transaction was rolled back).
- When the pool gave up on the database (its whole ``timeout`` without a connection) and the server
  takes no connection outside the pool either, units of work run through
  ``retry_once_if_connection_lost`` (ingest) do not wait on it again: one request a second asks,
  the others are answered 503 at once, until one gets through (``_Breaker``).
- When the database cannot be reached at all, every endpoint answers 503 with ``Retry-After`` and
  SPEC §1's body (``service_unavailable``), never a 500 or a traceback: the API's exception handler
  for DRF views, ``DatabaseUnavailableMiddleware`` for the others, ``json_500`` for what fails in a
  middleware. The outage is logged as one warning line a minute.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.db.models.expressions import RawSQL
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from .errors import error_body
from .outage import Outage

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The errors of a database that is unreachable or dropped the connection. (On SQLite "database is
# locked" is one too: a retry after a moment is the right advice there as well.)
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_S = 5
# While the pool cannot reach the database, how often one request may wait on it again.
PROBE_EVERY_S = 1.0

outage = Outage(logger, service="the database", consequence=f"requests are answered 503, Retry-After {RETRY_AFTER_S}")


def _pool_gave_up(exc: BaseException) -> bool:
    """The pool waited its whole ``timeout`` for a connection (or is closed): the server is down,
    and asking again at once would only make the client wait twice as long."""
    try:
        from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests
    except ImportError:  # SQLite-only installs
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PoolTimeout | PoolClosed | TooManyRequests):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DatabaseUnavailable(OperationalError):
    """Refused without asking the pool: it gave up on the database a moment ago (see ``_Breaker``)."""


class _Breaker:
    """While the pool cannot reach the database (and neither can a connection of our own), one
    request at a time asks it, once a ``PROBE_EVERY_S``; the others are answered 503 at once.

    Without this every request waits the pool's whole timeout (10 s) for a connection that cannot
    come, holding a worker thread all that time, and a lot system whose own timeout is shorter never
    sees the 503 and its ``Retry-After``. The state belongs to one pool object: a pool made afresh
    (another process, a test's) starts closed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: weakref.ref | None = None  # the pool that gave up; None: closed
        self._failed_at = float("-inf")
        self._probing = False

    def allow(self, pool) -> bool:
        with self._lock:
            if not self._holds(pool):
                return True
            if self._probing or time.monotonic() - self._failed_at < PROBE_EVERY_S:
                return False
            self._probing = True
            return True

    def gave_up(self, pool) -> None:
        with self._lock:
            self._pool, self._failed_at, self._probing = weakref.ref(pool), time.monotonic(), False

    def answered(self, pool) -> None:
        with self._lock:
            if self._holds(pool):
                self._pool, self._probing = None, False

    def settled(self, pool) -> None:
        """The request ended neither way (a bug, a bad input): the next one may ask."""
        with self._lock:
            if self._holds(pool):
                self._probing = False

    def _holds(self, pool) -> bool:
        return self._pool is not None and self._pool() is pool


breaker = _Breaker()


def _server_answers(pool) -> bool:
    """Whether the database takes a connection of its own, outside the pool. A pool can also give up
    with the server up (every connection busy, or stuck reconnecting after a restart): the breaker is
    for a server that is down, not for a pool that is slow."""
    import psycopg

    try:
        psycopg.connect(pool.conninfo, **{**(pool.kwargs or {}), "connect_timeout": 1}).close()
    except Exception:
        return False
    return True


def retry_once_if_connection_lost(work: Callable[[], T], *, using: str = DEFAULT_DB_ALIAS) -> T:
    """``work()``, run once more on a new connection if the database connection failed under it.

    Only outside any transaction of a caller: there a failure leaves the caller's transaction
    broken, and only the caller can start again. ``work`` must be safe to run twice when its first
    run failed (its writes in one transaction, or idempotent). While the pool cannot reach the
    database at all, ``DatabaseUnavailable`` at once, bar one request a ``PROBE_EVERY_S`` (``_Breaker``).
    """
    connection = connections[using]
    if connection.in_atomic_block:
        return work()
    pool = getattr(connection, "pool", None)  # psycopg's pool on PostgreSQL; None: no pool, no breaker
    if pool is None:
        return _retry_once(work, connection)
    if not breaker.allow(pool):
        raise DatabaseUnavailable("the database could not be reached a moment ago")
    try:
        result = _retry_once(work, connection)
    except DATABASE_UNAVAILABLE as exc:
        if _pool_gave_up(exc) and not _server_answers(pool):
            breaker.gave_up(pool)
        else:
            breaker.settled(pool)
        raise
    except BaseException:
        breaker.settled(pool)
        raise
    breaker.answered(pool)
    return result


def _retry_once(work: Callable[[], T], connection) -> T:
    try:
        return work()
    except DATABASE_UNAVAILABLE as exc:
        if connection.in_atomic_block or _pool_gave_up(exc):
            raise
        logger.warning("database connection lost (%s: %s); trying once more on a new connection",
                       type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        connection.close()  # a broken connection goes back to the pool, which discards it
        return work()


def row_version(model) -> RawSQL:
    """PostgreSQL only: an expression for the row version of ``model``'s rows (the system column
    ``xmin``, the transaction that wrote this version of the row). Any change to a row gives it a
    new one (so does freezing it, which only makes two reads look different); being row-locked does
    not. Two reads with the same ids and versions read the same rows."""
    table = connections[DEFAULT_DB_ALIAS].ops.quote_name(model._meta.db_table)
    return RawSQL(f"{table}.xmin::text", ())  # noqa: S611  # a model's own table name, quoted


def unavailable_body() -> dict:
    return error_body("service_unavailable", _("服务暂时不可用，请稍后重试"), {"retry_after_s": RETRY_AFTER_S})


def unavailable_json_response(exc: BaseException) -> JsonResponse:
    """SPEC §1's 503 for a request the database could not serve, logged as part of the outage."""
    outage.failed(exc)
    response = JsonResponse(unavailable_body(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response._has_been_logged = True  # the outage says it once a minute; django.request would say it every time
    return response


def unavailable_response(request, exc: BaseException) -> HttpResponse:
    """503 for a request the database could not serve: SPEC §1's JSON on the API, a plain page
    elsewhere (no template: rendering one may ask the database again, for the user)."""
    if request.path.startswith("/api/"):
        return unavailable_json_response(exc)
    outage.failed(exc)
    response = HttpResponse(f"<!doctype html><title>503</title><p>{_('服务暂时不可用，请稍后重试')}</p>",
                            status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_S)
    response._has_been_logged = True
    return response


class DatabaseUnavailableMiddleware:
    """Answer 503 (not 500) when a view that is not DRF's fails because the database is unavailable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return unavailable_response(request, exception)
        return None
