"""SPEC §3.1 signing, with real HMAC: the pure module and the server's checks through the API."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from cryptography.fernet import Fernet
from django.test import RequestFactory

from apps.sessions import signing
from apps.sessions.api.serializers import check_body_size
from apps.sessions.errors import BatchTooLarge
from apps.sessions.models import IngestEvent
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import INGEST_PATH, entry_event, signed_post

SECRET = "s3cr3t-for-tests"
BODY = b'{"events": []}'


def test_sign_is_hmac_sha256_over_the_spec_string():
    digest = hashlib.sha256(BODY).hexdigest()
    message = f"POST\n/api/v1/ingest/events\n1700000000\nnonce-123\n{digest}".encode()
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert signing.sign(SECRET, "post", "/api/v1/ingest/events", 1700000000, "nonce-123", BODY) == expected
    assert expected == expected.lower() and len(expected) == 64


def test_path_is_signed_without_query_string_and_str_body_equals_bytes():
    plain = signing.sign(SECRET, "POST", "/api/v1/ingest/events", 1, "nonce-123", BODY)
    assert signing.sign(SECRET, "POST", "/api/v1/ingest/events?x=1", 1, "nonce-123", BODY.decode()) == plain
    assert signing.sign(SECRET, "POST", "https://host/api/v1/ingest/events?x=1", 1, "nonce-123", BODY) == plain


@pytest.mark.parametrize("change", ["method", "path", "timestamp", "nonce", "body", "secret"])
def test_any_change_breaks_the_signature(change):
    args = {"secret": SECRET, "method": "POST", "path": "/p", "timestamp": 1, "nonce": "nonce-123", "body": BODY}
    good = signing.sign(**args)
    changed = {**args, change: {"method": "PUT", "path": "/q", "timestamp": 2, "nonce": "nonce-124",
                                "body": BODY + b" ", "secret": "other"}[change]}
    assert signing.sign(**changed) != good
    assert not signing.signature_matches(good, **changed)
    assert signing.signature_matches(good, **args)
    assert signing.signature_matches(good.upper(), **args)


def test_signed_headers_carry_a_fresh_nonce_and_the_time():
    first = signing.signed_headers("AK1", SECRET, "POST", "/p", BODY)
    second = signing.signed_headers("AK1", SECRET, "POST", "/p", BODY)
    assert first["X-Access-Key"] == "AK1"
    assert abs(int(first["X-Timestamp"]) - time.time()) < 5
    assert first["X-Nonce"] != second["X-Nonce"]
    assert signing.NONCE_MIN_LENGTH <= len(first["X-Nonce"]) <= signing.NONCE_MAX_LENGTH
    assert first["X-Signature"] == signing.sign(SECRET, "POST", "/p", first["X-Timestamp"], first["X-Nonce"], BODY)


# -- through the API ---------------------------------------------------------------------------

@pytest.fixture
def lot(db):
    return LotFactory()


@pytest.fixture
def issued(lot):
    return DeviceFactory.issue(lots=[lot])


def _body(lot):
    return {"events": [entry_event(lot, "苏B12345")]}


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}
    return body


@pytest.mark.django_db
def test_a_signed_request_is_accepted(api_client, lot, issued):
    device, secret = issued
    response = signed_post(api_client, device, secret, _body(lot))
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


@pytest.mark.django_db
def test_unknown_key(api_client, lot, issued):
    device, secret = issued
    body = _error(signed_post(api_client, device, secret, _body(lot), access_key="AKNOSUCHKEY"), 401, "unknown_key")
    assert "WXP-HMAC-SHA256" in signed_post(api_client, device, secret, _body(lot),
                                             access_key="AKX").headers["WWW-Authenticate"]
    assert SECRET not in json.dumps(body)


@pytest.mark.django_db
@pytest.mark.parametrize("access_key", ["AK\x00", "AK 1", "钥匙", "A" * 33])
def test_a_key_of_the_wrong_shape_is_unknown_without_asking_the_database(api_client, lot, issued, access_key,
                                                                        django_assert_num_queries):
    device, secret = issued
    with django_assert_num_queries(0):
        response = signed_post(api_client, device, secret, _body(lot), headers={"X-Access-Key": access_key})
    _error(response, 401, "unknown_key")


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_nul_in_the_access_key_is_unknown_key_on_postgresql(api_client, lot, issued):
    device, secret = issued
    _error(signed_post(api_client, device, secret, _body(lot), headers={"X-Access-Key": device.access_key + "\x00"}),
           401, "unknown_key")


@pytest.mark.django_db
def test_a_secret_that_no_longer_decrypts_is_unknown_key_and_logged_once(api_client, lot, issued, settings, caplog):
    """The key derived from SECRET_KEY / DEVICE_SECRET_KEY changed: the device must be re-issued."""
    device, secret = issued
    settings.DEVICE_SECRET_FERNET_KEY = Fernet.generate_key()
    with caplog.at_level(logging.INFO):
        response = signed_post(api_client, device, secret, _body(lot))
    body = _error(response, 401, "unknown_key")
    assert "重新签发" in body["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("WXP-HMAC-SHA256")
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "apps.sessions.auth"
    assert device.access_key in errors[0].getMessage()
    assert secret not in errors[0].getMessage() and secret not in json.dumps(body)
    assert not IngestEvent.objects.exists()


@pytest.mark.django_db
def test_missing_key(api_client, lot, issued):
    device, secret = issued
    _error(signed_post(api_client, device, secret, _body(lot), headers={"X-Access-Key": ""}), 401, "unknown_key")


@pytest.mark.django_db
def test_revoked_key(api_client, lot, issued):
    from apps.lots.services import device_revoke

    device, secret = issued
    device_revoke(device=device)
    _error(signed_post(api_client, device, secret, _body(lot)), 401, "unknown_key")
    assert not IngestEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_timestamp(api_client, lot, issued, offset):
    device, secret = issued
    response = signed_post(api_client, device, secret, _body(lot), timestamp=int(time.time()) + offset)
    _error(response, 401, "stale_request")


@pytest.mark.django_db
def test_timestamp_within_tolerance_is_fine(api_client, lot, issued):
    device, secret = issued
    response = signed_post(api_client, device, secret, _body(lot), timestamp=int(time.time()) - 290)
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "abc", "1.5"])
def test_malformed_timestamp_is_stale(api_client, lot, issued, value):
    device, secret = issued
    _error(signed_post(api_client, device, secret, _body(lot), headers={"X-Timestamp": value}), 401, "stale_request")


@pytest.mark.django_db
def test_replayed_nonce(api_client, lot, issued):
    device, secret = issued
    first = signed_post(api_client, device, secret, _body(lot), nonce="nonce-replay-1")
    assert first.status_code == 200
    _error(signed_post(api_client, device, secret, _body(lot), nonce="nonce-replay-1"), 401, "replayed_request")


@pytest.mark.django_db
def test_nonce_is_scoped_per_key(api_client, lot, issued):
    device, secret = issued
    other, other_secret = DeviceFactory.issue(lots=[lot], name="另一设备")
    assert signed_post(api_client, device, secret, _body(lot), nonce="shared-nonce-1").status_code == 200
    assert signed_post(api_client, other, other_secret, _body(lot), nonce="shared-nonce-1").status_code == 200


@pytest.mark.django_db
def test_wrong_secret(api_client, lot, issued):
    device, _secret = issued
    _error(signed_post(api_client, device, "not-the-secret", _body(lot)), 401, "bad_signature")
    assert not IngestEvent.objects.exists()


@pytest.mark.django_db
def test_tampered_body(api_client, lot, issued):
    device, secret = issued
    headers = signing.signed_headers(device.access_key, secret, "POST", INGEST_PATH, b'{"events": []}')
    raw = json.dumps(_body(lot)).encode()
    response = api_client.generic("POST", INGEST_PATH, raw, content_type="application/json", headers=headers)
    _error(response, 401, "bad_signature")


@pytest.mark.django_db
def test_missing_signature(api_client, lot, issued):
    device, secret = issued
    _error(signed_post(api_client, device, secret, _body(lot), headers={"X-Signature": ""}), 401, "bad_signature")


@pytest.mark.django_db
@pytest.mark.parametrize("nonce", ["short", "n" * 65])
def test_nonce_length(api_client, lot, issued, nonce):
    device, secret = issued
    _error(signed_post(api_client, device, secret, _body(lot), nonce=nonce), 401, "bad_signature")


@pytest.mark.django_db
def test_a_bad_signature_does_not_burn_the_nonce(api_client, lot, issued):
    device, secret = issued
    _error(signed_post(api_client, device, "forged", _body(lot), nonce="nonce-kept-1"), 401, "bad_signature")
    assert signed_post(api_client, device, secret, _body(lot), nonce="nonce-kept-1").status_code == 200


@pytest.mark.django_db
def test_query_string_is_not_signed(api_client, lot, issued):
    device, secret = issued
    raw = json.dumps(_body(lot)).encode()
    headers = signing.signed_headers(device.access_key, secret, "POST", INGEST_PATH, raw)
    response = api_client.generic("POST", INGEST_PATH + "?debug=1", raw, content_type="application/json",
                                  headers=headers)
    assert response.status_code == 200


# -- body --------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_body_over_one_mib_is_413_before_the_signature_is_checked(api_client, lot, issued):
    device, _secret = issued
    raw = b'{"events": [' + b" " * (1024 * 1024) + b"]}"
    body = _error(signed_post(api_client, device, "wrong-secret", raw), 413, "batch_too_large")
    assert body["error"]["details"]["max_bytes"] == 1024 * 1024


@pytest.mark.django_db
def test_body_of_exactly_one_mib_is_not_too_large(api_client, lot, issued):
    device, secret = issued
    prefix = json.dumps(_body(lot))[:-1].encode()
    raw = prefix + b" " * (1024 * 1024 - len(prefix) - 1) + b"}"
    assert len(raw) == 1024 * 1024
    assert signed_post(api_client, device, secret, raw).status_code == 200


def test_body_size_counts_the_bytes_received_even_without_a_length(settings):
    settings.INGEST_MAX_BODY_BYTES = 10
    check_body_size(content_length=None, body=b"x" * 10)
    with pytest.raises(BatchTooLarge):
        check_body_size(content_length=None, body=b"x" * 11)
    with pytest.raises(BatchTooLarge):
        check_body_size(content_length="11")
    request = RequestFactory().post("/", data=b"x" * 5, content_type="application/json")
    check_body_size(content_length=request.META["CONTENT_LENGTH"], body=request.body)


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b'{"events": [NaN]}', b""])
def test_malformed_json(api_client, lot, issued, raw):
    device, secret = issued
    _error(signed_post(api_client, device, secret, raw), 400, "invalid_json")


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[], {"events": []}, {"events": {}}, {"evts": [1]}, b'"x"'])
def test_batch_must_be_1_to_1000_events(api_client, lot, issued, body):
    device, secret = issued
    _error(signed_post(api_client, device, secret, body), 400, "invalid_batch")


@pytest.mark.django_db
def test_batch_over_1000_events_is_too_large(api_client, lot, issued):
    """SPEC §3.2 "1–1000 events, at most 1 MiB (else 413 batch_too_large)": the "else" covers both."""
    device, secret = issued
    events = [entry_event(lot, "苏B12345", event_id=f"e{i}") for i in range(1001)]
    body = _error(signed_post(api_client, device, secret, {"events": events}), 413, "batch_too_large")
    assert body["error"]["details"]["max_events"] == 1000
    assert not IngestEvent.objects.exists()
    assert signed_post(api_client, device, secret, {"events": events[:1000]}).status_code == 200


@pytest.mark.redis
@pytest.mark.django_db
def test_a_nonce_is_seen_by_every_server_process(api_client, lot, issued):
    """With Redis the nonce lives in the shared cache: another process's own client sees it."""
    from django.core.cache import caches

    from apps.sessions.auth import nonce_cache_key

    device, secret = issued
    assert signed_post(api_client, device, secret, _body(lot), nonce="nonce-shared-1").status_code == 200
    other_process = caches.create_connection("default")  # a separate client with its own connection pool
    assert other_process.get(nonce_cache_key(device.access_key, "nonce-shared-1")) == 1
    assert not other_process.add(nonce_cache_key(device.access_key, "nonce-shared-1"), 1)
