"""How long a stay keeps its plate (PIPL: a plate with times and places is a movement trace).

After ``SESSION_PLATE_RETENTION_DAYS`` a finished stay whose money is settled keeps its times, lot
and amounts (occupancy history, settlement and analytics need them) but its plate becomes a salted
hash: ``#`` and 15 base-32 characters of HMAC-SHA256(``PLATE_HASH_SALT``, plate). The same goes for
the stay's ingest events (their ``plate`` column and the copy in the raw ``payload``), its paid
arrears record, and plated ingest events that never made a stay (berth sensors). Sixteen characters
fit every plate column of the platform as it is (``max_length=16``); 75 bits keep two of the
city's plates from sharing a hash. ``#`` starts no plate (SPEC §2), so a hashed value is never
mistaken for one, and staff still find a given plate's old stays by hashing what they type
(``plate_match_values``).

A stay keeps its plate while money is still owed on it: something due with no paid arrears record
behind it, an unpaid arrears record, or whatever another app says through the hold port — payments
registers its open order items with ``register_retention_hold`` from ``AppConfig.ready()``; this
app imports none of them (``.importlinter``).

``purge_plates`` works in bounded batches; each batch is one UPDATE per table, whose WHERE repeats
the whole rule, so a debt that appears between the read and the write keeps its plate. A hashed
plate is never selected again: a second run changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from apps.common import plates

from .models import Arrears, IngestEvent, ParkingSession

PREFIX = "#"
_HASH_CHARS = 15  # "#" + 15 = 16, the plate columns' max_length

#: a hold answers the session ids (a ``values("…")`` queryset or a list) whose plates must be kept
RetentionHold = Callable[[], QuerySet | list[int]]

_holds: list[RetentionHold] = []


def register_retention_hold(hold: RetentionHold) -> None:
    """Another app's reason to keep a stay's plate (money it still collects on the stay)."""
    if hold not in _holds:
        _holds.append(hold)


def plate_hash(plate: str, *, salt: str | None = None) -> str:
    """The stored form of an expired plate: ``#`` + 15 base-32 characters of HMAC-SHA256.

    The plate is normalised first (SPEC §2), so ``苏b·12345`` and ``苏B12345`` hash alike."""
    key = (settings.PLATE_HASH_SALT if salt is None else salt).encode()
    digest = hmac.new(key, plates.normalize(plate).encode(), hashlib.sha256).digest()
    return PREFIX + base64.b32encode(digest).decode().lower()[:_HASH_CHARS]


def is_hashed(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)


def plate_match_values(plate: str) -> list[str]:
    """What a stored plate column may hold for ``plate``: the plate itself and its hash."""
    value = plates.normalize(plate)
    return [value, plate_hash(value)]


@dataclass(frozen=True)
class PurgeResult:
    sessions: int = 0
    events: int = 0
    arrears: int = 0
    batches: int = 0

    def __add__(self, other: PurgeResult) -> PurgeResult:
        return PurgeResult(self.sessions + other.sessions, self.events + other.events,
                           self.arrears + other.arrears, self.batches + other.batches)


def cutoff(now: datetime | None = None, days: int | None = None) -> datetime:
    days = settings.SESSION_PLATE_RETENTION_DAYS if days is None else days
    return (now or timezone.now()) - timedelta(days=days)


def expired_sessions(before: datetime) -> QuerySet:
    """Finished stays that ended before ``before``, plate still in clear, nothing owed on them."""
    unpaid_arrears = Arrears.objects.filter(session=OuterRef("pk"), paid_at__isnull=True)
    paid_arrears = Arrears.objects.filter(session=OuterRef("pk"), paid_at__isnull=False)
    held = Q(pk__in=[])
    for hold in _holds:
        held |= Q(pk__in=hold())
    ended = Q(closed_at__lt=before) | Q(closed_at__isnull=True, updated_at__lt=before)
    return (ParkingSession.objects
            .exclude(state__in=ParkingSession.ACTIVE_STATES)
            .filter(ended, plate__isnull=False)
            .exclude(plate__startswith=PREFIX)
            .filter(Q(due_fen=0) | Exists(paid_arrears))
            .exclude(Exists(unpaid_arrears))
            .exclude(held))


def _by_plate(field: str, hashes: dict[str, str]) -> Case:
    return Case(*(When(**{field: plate}, then=Value(hashed)) for plate, hashed in hashes.items()),
                default=field)


def _hash_payload(payload, hashed: str):
    if isinstance(payload, dict) and payload.get("plate"):
        return {**payload, "plate": hashed}
    return payload


def _hash_events(events: QuerySet, hashes: dict[str, str]) -> int:
    rows = list(events.only("pk", "plate", "payload"))
    for event in rows:
        hashed = hashes.get(event.plate) or plate_hash(event.plate)
        event.plate, event.payload = hashed, _hash_payload(event.payload, hashed)
    IngestEvent.objects.bulk_update(rows, ["plate", "payload"])  # one UPDATE (CASE by pk) a batch
    return len(rows)


def _purge_session_batch(before: datetime, batch_size: int) -> PurgeResult:
    with transaction.atomic():
        chosen = list(expired_sessions(before).order_by("pk").values_list("pk", "plate")[:batch_size])
        if not chosen:
            return PurgeResult()
        ids = [pk for pk, _plate in chosen]
        hashes = {plate: plate_hash(plate) for _pk, plate in chosen}
        # The WHERE is the rule again: a stay that became owed since the read keeps its plate.
        sessions = expired_sessions(before).filter(pk__in=ids).update(plate=_by_plate("plate", hashes))
        done = list(ParkingSession.objects.filter(pk__in=ids, plate__startswith=PREFIX).values_list("pk", flat=True))
        arrears = Arrears.objects.filter(session_id__in=done, paid_at__isnull=False).exclude(
            plate__startswith=PREFIX).update(plate=_by_plate("plate", hashes))
        events = _hash_events(IngestEvent.objects.filter(session_id__in=done, plate__isnull=False)
                              .exclude(plate__startswith=PREFIX), hashes)
    return PurgeResult(sessions=sessions, events=events, arrears=arrears, batches=1)


def _purge_loose_event_batch(before: datetime, batch_size: int) -> PurgeResult:
    """Plated events that made no stay (berth sensors, entries since superseded and unlinked)."""
    with transaction.atomic():
        ids = list(IngestEvent.objects.filter(session__isnull=True, plate__isnull=False, received_at__lt=before)
                   .exclude(plate__startswith=PREFIX).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return PurgeResult()
        events = _hash_events(IngestEvent.objects.filter(pk__in=ids).select_for_update(), {})
    return PurgeResult(events=events, batches=1)


def purge_plates(*, now: datetime | None = None, days: int | None = None, batch_size: int = 500,
                 max_batches: int | None = None) -> PurgeResult:
    """Hash the plates of settled stays (and their events) older than the retention period.

    Each batch commits on its own, so a long backlog never holds one huge transaction; with
    ``max_batches`` a run stops after that many and the next run goes on."""
    before = cutoff(now, days)
    total = PurgeResult()
    for step in (_purge_session_batch, _purge_loose_event_batch):
        while max_batches is None or total.batches < max_batches:
            result = step(before, batch_size)
            total += result
            if result.batches == 0:
                break
    return total
