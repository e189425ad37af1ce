"""Replay protection for signed requests (SPEC §3.1): each X-Nonce is accepted once per key within
``INGEST_NONCE_TTL_S``.

Nonces live in the shared cache (Redis in production, so every server process sees them), recorded
with ``cache.add``: atomic, so only the first of two racing requests gets it. When the cache cannot
be reached, ingest must not stop (DESIGN: a slow or absent outside service never loses an event):
the nonce is recorded in the database instead (``IngestNonce``, unique per device and nonce). A
nonce first seen by the cache is also looked for in the database, so a request recorded there
during an outage is still a replay once the cache is back; that costs one indexed read of a table
that is empty but for outages.

What stays open: a nonce recorded in Redis before it went away cannot be looked up while it is away.
A replay in that window must still carry a timestamp within ``INGEST_TIMESTAMP_TOLERANCE_S``.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.cache import cache_add

from .models import IngestNonce

# Expired database nonces are purged by the periodic task; during an outage (when the broker, Redis,
# may be down too, so beat's tasks do not run) the fallback also purges them itself this often.
_PURGE_EVERY_S = 60.0
_purged_at = float("-inf")


def nonce_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("utf-8")).hexdigest()


def nonce_cache_key(access_key: str, nonce: str) -> str:
    # Hashed: a nonce may hold any characters, a cache key should not.
    return f"ingest:nonce:{access_key}:{nonce_digest(nonce)}"


def nonce_claim(*, device, nonce: str) -> bool:
    """Record ``nonce`` as used by ``device``: True the first time within the TTL, False for a replay."""
    ttl = settings.INGEST_NONCE_TTL_S
    digest = nonce_digest(nonce)
    first = cache_add(nonce_cache_key(device.access_key, nonce), 1, timeout=ttl)
    if first is None:  # the cache is unreachable (logged once a minute by apps.common.cache)
        return _claim_in_database(device_id=device.pk, digest=digest, ttl=ttl)
    if not first:
        return False
    return not IngestNonce.objects.filter(device_id=device.pk, digest=digest,
                                          expires_at__gt=timezone.now()).exists()


def _claim_in_database(*, device_id: int, digest: str, ttl: int) -> bool:
    now = timezone.now()
    expires_at = now + timedelta(seconds=ttl)
    global _purged_at
    if time.monotonic() - _purged_at >= _PURGE_EVERY_S:
        _purged_at = time.monotonic()
        nonces_purge(now=now)
    try:
        with transaction.atomic():
            IngestNonce.objects.create(device_id=device_id, digest=digest, expires_at=expires_at)
        return True
    except IntegrityError:
        # The row is there. If it expired (not purged yet) the nonce may be used again: take it over
        # with one conditional UPDATE, so of two requests racing for it only one succeeds.
        return IngestNonce.objects.filter(device_id=device_id, digest=digest,
                                          expires_at__lte=now).update(expires_at=expires_at) == 1


def nonces_purge(*, now=None) -> int:
    """Delete database nonces whose TTL has passed; returns how many."""
    deleted, _ = IngestNonce.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
