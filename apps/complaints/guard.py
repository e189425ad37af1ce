"""Rate limits on the hotline's open doors: guessing a ticket's phone digits, and filing tickets
without login. Counted in the cache (shared by every worker in production)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.utils.translation import gettext as _

from .errors import TooManyGuesses

WINDOW_S = 600
#: failed look-ups allowed per client address, and per ticket number, in a window
GUESSES_PER_CLIENT = 10
GUESSES_PER_TICKET = 5
#: tickets one client address may file in a window
CREATES_PER_CLIENT = 20


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _ticket_key(ticket_no: str) -> str:
    """The per-ticket counter's key: the number as typed is the caller's text (any length, any
    character), so the key holds its digest, never the text itself."""
    return "hotline:guess:no:" + hashlib.sha256(ticket_no.strip().upper().encode()).hexdigest()[:32]


def _count(key: str) -> int:
    return int(cache.get(key) or 0)


def _bump(key: str) -> None:
    if not cache.add(key, 1, WINDOW_S):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, WINDOW_S)


def _refuse() -> TooManyGuesses:
    return TooManyGuesses(_("尝试次数过多，请10分钟后再试"), details={"retry_after_s": WINDOW_S})


def check_lookup(request, ticket_no: str) -> None:
    if (_count(f"hotline:guess:ip:{_client(request)}") >= GUESSES_PER_CLIENT
            or _count(_ticket_key(ticket_no)) >= GUESSES_PER_TICKET):
        raise _refuse()


def lookup_failed(request, ticket_no: str) -> None:
    _bump(f"hotline:guess:ip:{_client(request)}")
    _bump(_ticket_key(ticket_no))


def check_create(request) -> None:
    key = f"hotline:create:ip:{_client(request)}"
    if _count(key) >= CREATES_PER_CLIENT:
        raise _refuse()
    _bump(key)
