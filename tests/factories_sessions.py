"""Helpers for tests (and simulator/benchmark tests) that talk to the ingest API.

    device, secret = DeviceFactory.issue(lots=[lot])
    response = signed_post(api_client, device, secret, {"events": [entry_event(lot, "苏B12345")]})
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta

import factory
from django.utils import timezone

from apps.berths.models import Berth
from apps.lots.fees import SHANGHAI
from apps.sessions.models import ParkingSession
from apps.sessions.signing import signed_headers
from tests.factories import LotFactory

INGEST_PATH = "/api/v1/ingest/events"
#: the clock of the session-service tests: a Tuesday afternoon
AFTERNOON = datetime(2026, 3, 17, 14, 0, tzinfo=SHANGHAI)

_ids = itertools.count(1)


def _body_bytes(body) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def signed_post(client, device, secret: str, body, *, path: str = INGEST_PATH, timestamp: int | None = None,
                nonce: str | None = None, access_key: str | None = None, headers: dict | None = None):
    """POST ``body`` (a dict/list serialised as JSON, or raw bytes/str) signed as ``device``.

    Works with DRF's APIClient and Django's test Client. ``headers`` override the signed ones
    (to send a wrong signature, say).
    """
    raw = _body_bytes(body)
    signed = signed_headers(access_key or device.access_key, secret, "POST", path, raw,
                            timestamp=timestamp, nonce=nonce)
    signed.update(headers or {})
    return client.generic("POST", path, raw, content_type="application/json", headers=signed)


def iso(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


def event(lot, type_: str, *, at: datetime | None = None, event_id: str | None = None, **fields) -> dict:
    """One SPEC §3.2 event for ``lot`` (a ParkingLot or a lot code)."""
    body = {
        "event_id": event_id or f"ev-{next(_ids)}",
        "type": type_,
        "lot_code": getattr(lot, "code", lot),
        "occurred_at": iso(at or timezone.now()),
    }
    body.update(fields)
    return body


def entry_event(lot, plate: str | None, **fields) -> dict:
    return event(lot, "entry", plate=plate, **fields)


def exit_event(lot, plate: str | None, **fields) -> dict:
    return event(lot, "exit", plate=plate, **fields)


class BerthFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Berth

    lot = factory.SubFactory(LotFactory)
    code = factory.Sequence(lambda n: f"B{n:04d}")


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ParkingSession

    lot = factory.SubFactory(LotFactory)
    plate = factory.Sequence(lambda n: f"苏B{n % 100000:05d}")
    state = ParkingSession.State.OPEN
    entry_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
