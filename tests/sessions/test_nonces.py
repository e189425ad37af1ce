"""Replay protection when the shared cache is unreachable (SPEC §3.1, issue 6 item 8): ingest keeps
storing events, a replayed nonce is still refused, and the outage is logged as one warning line."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.sessions.models import IngestEvent, IngestNonce
from apps.sessions.tasks import purge_nonces
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import entry_event, signed_post
from tests.outages import UNREACHABLE_REDIS_CACHES

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = UNREACHABLE_REDIS_CACHES


@pytest.fixture
def lot():
    return LotFactory()


@pytest.fixture
def redis_down(settings):
    settings.CACHES = UNREACHABLE_REDIS


def _post(api_client, issued, lot, *, nonce, plate="苏B12345"):
    device, secret = issued
    return signed_post(api_client, device, secret, {"events": [entry_event(lot, plate)]}, nonce=nonce)


def test_without_the_cache_a_batch_is_stored_and_a_replay_still_refused(api_client, issued, lot, redis_down):
    response = _post(api_client, issued, lot, nonce="nonce-outage-1")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    assert IngestEvent.objects.count() == 1

    replay = _post(api_client, issued, lot, nonce="nonce-outage-1", plate="苏B54321")
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "replayed_request"
    assert IngestEvent.objects.count() == 1

    assert _post(api_client, issued, lot, nonce="nonce-outage-2", plate="苏B54321").status_code == 200


def test_a_nonce_is_per_key_in_the_database_too(api_client, lot, redis_down):
    first, second = DeviceFactory.issue(lots=[lot]), DeviceFactory.issue(lots=[lot])
    assert _post(api_client, first, lot, nonce="nonce-shared-9").status_code == 200
    assert _post(api_client, second, lot, nonce="nonce-shared-9", plate="苏B54321").status_code == 200


def test_a_nonce_recorded_during_the_outage_is_a_replay_once_the_cache_is_back(api_client, issued, lot,
                                                                                settings):
    working = settings.CACHES
    settings.CACHES = UNREACHABLE_REDIS
    assert _post(api_client, issued, lot, nonce="nonce-across-1").status_code == 200
    settings.CACHES = working
    replay = _post(api_client, issued, lot, nonce="nonce-across-1", plate="苏B54321")
    assert (replay.status_code, replay.json()["error"]["code"]) == (401, "replayed_request")


def test_an_expired_database_nonce_may_be_used_again(api_client, issued, lot, redis_down):
    device, _secret = issued
    assert _post(api_client, issued, lot, nonce="nonce-expire-1").status_code == 200
    IngestNonce.objects.filter(device=device).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _post(api_client, issued, lot, nonce="nonce-expire-1", plate="苏B54321").status_code == 200
    assert IngestNonce.objects.get(device=device).expires_at > timezone.now()


def test_a_forged_request_does_not_burn_a_nonce_in_the_database(api_client, issued, lot, redis_down):
    device, _secret = issued
    forged = signed_post(api_client, device, "not-the-secret", {"events": [entry_event(lot, "苏B12345")]},
                         nonce="nonce-forged-1")
    assert forged.status_code == 401
    assert not IngestNonce.objects.exists()
    assert _post(api_client, issued, lot, nonce="nonce-forged-1").status_code == 200


def test_the_outage_is_one_warning_line_not_a_traceback_per_request(api_client, issued, lot, redis_down, caplog):
    from apps.common import cache as shared_cache

    shared_cache.outage.reset()  # a fresh outage, whatever earlier tests did
    with caplog.at_level(logging.WARNING):
        for n in range(5):
            assert _post(api_client, issued, lot, nonce=f"nonce-quiet-{n}", plate=f"苏B1234{n}").status_code == 200
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].exc_info is None
    assert "unreachable" in problems[0].getMessage()


def test_expired_database_nonces_are_purged_by_the_periodic_task(issued):
    device, _secret = issued
    now = timezone.now()
    IngestNonce.objects.create(device=device, digest="a" * 64, expires_at=now - timedelta(seconds=1))
    IngestNonce.objects.create(device=device, digest="b" * 64, expires_at=now + timedelta(minutes=5))
    assert purge_nonces() == 1
    assert list(IngestNonce.objects.values_list("digest", flat=True)) == ["b" * 64]


def test_the_scheduler_runs_the_purge(issued, settings):

    device, _secret = issued
    IngestNonce.objects.create(device=device, digest="c" * 64, expires_at=timezone.now() - timedelta(seconds=1))
    settings.CELERY_BEAT_SCHEDULE = {k: v for k, v in settings.CELERY_BEAT_SCHEDULE.items() if k == "purge-nonces"}
    call_command("run_scheduler", "--once")
    assert not IngestNonce.objects.exists()


def test_without_the_channel_layer_a_batch_is_stored_and_logged_once(api_client, issued, lot, settings, caplog,
                                                                    django_capture_on_commit_callbacks):
    """Redis carries the channel layer too: publishing the changed lots after commit fails, and must
    neither fail the batch nor log a traceback per batch."""
    from channels.layers import channel_layers

    from apps.realtime import publish

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    channel_layers.backends.clear()
    publish._outage.reset()
    device, secret = issued
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True) as published:
        for n in range(3):
            response = signed_post(api_client, device, secret, {"events": [entry_event(lot, f"苏B5432{n}")]})
            assert response.status_code == 200, response.content
            assert response.json()["accepted"] == 1
    assert len(published) == 3
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1 and problems[0].exc_info is None, [r.getMessage() for r in problems]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_requests_racing_with_one_nonce_during_an_outage_are_accepted_once(settings):
    """The database decides the race (unique per device and nonce), as cache.add does when Redis is up."""
    settings.CACHES = UNREACHABLE_REDIS
    lot = LotFactory()
    device, secret = DeviceFactory.issue(lots=[lot])
    body = {"events": [entry_event(lot, "苏B12345")]}
    racers = 8
    barrier = threading.Barrier(racers)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def post():
        try:
            client = Client()
            barrier.wait()
            statuses.append(signed_post(client, device, secret, body, nonce="nonce-race-0001",
                                        timestamp=stamp).status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    stamp = int(time.time())
    threads = [threading.Thread(target=post) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(statuses) == [200] + [401] * (racers - 1)
    assert IngestEvent.objects.count() == 1
    assert IngestNonce.objects.filter(device=device).count() == 1
