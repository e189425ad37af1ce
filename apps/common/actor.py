"""Who is acting and from where: the member of staff, their IP and browser, handed to services.

Views and admin pages build an ``Actor`` from the request and pass it to the service explicitly
(no thread-locals), so the audit entry a service writes says where the action came from. Services
also accept a plain user (commands, tests, older callers) and ``None`` for the system itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER_AGENT_MAX = 256


@dataclass(frozen=True)
class Actor:
    user: Any
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> Actor:
        meta = getattr(request, "META", {})
        return cls(user=request.user, ip=meta.get("REMOTE_ADDR") or None,
                   user_agent=(meta.get("HTTP_USER_AGENT") or "")[:USER_AGENT_MAX])


def as_actor(actor) -> Actor | None:
    """An ``Actor`` for a user, an actor or None (the system)."""
    if actor is None or isinstance(actor, Actor):
        return actor
    return Actor(user=actor)


def user_of(actor):
    """The user behind ``actor`` (a user, an ``Actor`` or None)."""
    return actor.user if isinstance(actor, Actor) else actor
