"""Schemathesis over the schema the project serves at ``/api/schema/`` (issue 12, robustness): every
operation of the public (SPEC §4, §5), citizen (§8) and ingest (§3) APIs, fed generated valid and
invalid input, never answers 5xx.

Each audience gets what it needs to be reached past its front door: the citizen operations a real
citizen's DRF token (§8), the ingest operations a real device signature over the very bytes sent
(§3.1), so the body's validation and the event service run, not only the 401. Half of the generated
events name the device's own lot, so the service's paths past ``lot_not_allowed`` run too.

Bounded and deterministic: a handful of examples an operation, derandomized, no example database.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet

from apps.sessions.signing import signed_headers
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import BerthFactory, SessionFactory
from tests.factories_wechat import BoundPlateFactory, CitizenFactory
from wuxi_parking.wsgi import application

#: the schema as a client downloads it (drf-spectacular's view), not a copy generated for the test
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", application)

PUBLIC = SCHEMA.include(path_regex=r"^/api/v1/(lots/|map/|fees/|open/)")
CITIZEN = SCHEMA.include(path_regex=r"^/api/v1/(me/|pay/|payments/|complaints/|reservations/|sharing/|arrears/)")
INGEST = SCHEMA.include(path_regex=r"^/api/v1/ingest/")

# Enough for the coverage phase's boundary values and a few generated cases an operation, while the
# whole module stays well under a minute.
FUZZ = settings(max_examples=12, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))

CITIZEN_PLATE = "苏B12345"
_event_ids = itertools.count(1)
GATE_PLATES = (CITIZEN_PLATE, "苏BD12345", "苏B12345D", "苏B1234学", "WJ苏12345")


@pytest.fixture
def in_process(db):
    """Requests served in the test's own transaction, as Django's test client serves them: the WSGI
    handler's end-of-request connection close would otherwise end that transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(in_process, city):
    """A lot with a tariff, a berth, its device, a citizen with a token, a bound plate and a stay in progress."""
    lot = LotFactory(code="FZ-1", total_berths=50, free_berths=49)
    device, secret = DeviceFactory.issue(lots=[lot])
    berth = BerthFactory(lot=lot, code="B-1")
    citizen = CitizenFactory()
    BoundPlateFactory(citizen=citizen, plate=CITIZEN_PLATE)
    SessionFactory(lot=lot, plate=CITIZEN_PLATE, entry_at=timezone.now() - timedelta(hours=2))
    token = Token.objects.create(user=citizen.user)
    return {"lot": lot, "berth": berth, "device": device, "secret": secret, "token": token.key}


def _call(case, **kwargs):
    # A savepoint a request, as autocommit gives each request in production: a request that fails in
    # the database cannot leave the test's transaction unusable for the next example.
    with transaction.atomic():
        return case.call_and_validate(checks=[not_a_server_error], **kwargs)


@PUBLIC.parametrize()
@FUZZ
def test_public_api_never_answers_a_server_error(case, world):
    _call(case)


@CITIZEN.parametrize()
@FUZZ
def test_citizen_api_never_answers_a_server_error(case, world):
    _call(case, headers={"Authorization": f"Token {world['token']}"})


def signed(case, world) -> dict:
    """Sign the request as the device: the exact bytes that will be sent, with a fresh nonce.

    Every other event of a batch is made to come from a working gate (the device's lot, a recent time,
    now and then a valid plate), so the service runs past its first checks; the rest stay as generated."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        now = timezone.localtime()
        for index, event in enumerate(body["events"]):
            if isinstance(event, dict) and index % 2 == 0:
                # what a working gate sends, so the session, occupancy and fee paths run on it
                event["lot_code"] = world["lot"].code
                event["event_id"] = f"fz-{next(_event_ids)}"  # generated ids repeat: duplicates stop early
                event["occurred_at"] = (now - timedelta(minutes=7 * index)).isoformat()
                if "berth_code" in event:
                    event["berth_code"] = world["berth"].code
                if index % 4 == 0:
                    event["plate"] = GATE_PLATES[index // 4 % len(GATE_PLATES)]
    if isinstance(body, NotSet):
        raw = b""
    elif isinstance(body, bytes):
        raw = body
    else:
        raw = json.dumps(body, ensure_ascii=False).encode()
    headers = signed_headers(world["device"].access_key, world["secret"], case.method, case.formatted_path, raw)
    kwargs = {"headers": headers}
    if case.method.upper() != "GET":
        kwargs["data"] = raw
    return kwargs


@INGEST.parametrize()
@FUZZ
def test_ingest_api_never_answers_a_server_error(case, world):
    _call(case, **signed(case, world))
