"""Saying that an outside service is down once, not once per request.

While Redis (cache, channel layer) is unreachable, every request meets the same failure; a
traceback each time would bury the log. An ``Outage`` logs one warning line a minute while the
failures go on, and one info line when the service answers again.
"""

from __future__ import annotations

import logging
import time

WARN_EVERY_S = 60.0


class Outage:
    def __init__(self, logger: logging.Logger, *, service: str, consequence: str):
        self.logger = logger
        self.service = service
        self.consequence = consequence  # what the platform does meanwhile, said in the warning
        self.down_since: float | None = None
        self.warned_at = float("-inf")

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
        if now - self.warned_at >= WARN_EVERY_S:
            self.warned_at = now
            self.logger.warning("%s is unreachable (%s: %s); %s", self.service, type(exc).__name__, exc,
                                self.consequence)

    def answered(self) -> None:
        if self.down_since is not None:
            self.logger.info("%s answers again after %.0f s", self.service, time.monotonic() - self.down_since)
            self.reset()

    def reset(self) -> None:
        self.down_since = None
        self.warned_at = float("-inf")

    @property
    def down(self) -> bool:
        return self.down_since is not None
