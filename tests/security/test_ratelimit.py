"""Rate limits (apps/common/ratelimit.py): the N+1-th request of a client is a 429 with Retry-After and
SPEC §1's body; other clients and other faces keep their own counts; a failing cache lets requests through."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings

from apps.common import ratelimit

LIMITS = {"public": (3, 60), "citizen": (3, 60), "ingest": (3, 60), "callback": (3, 60), "open311": (3, 60),
          "wechat": (3, 60)}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_limits():
    ratelimit.outage.reset()
    with override_settings(RATE_LIMITS=LIMITS):
        yield
    ratelimit.outage.reset()


def _spend(client, method, path, n, **extra):
    return [getattr(client, method)(path, **extra).status_code for _ in range(n)]


def _assert_limited(response, *, spec_body=True):
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    if spec_body:
        assert body["error"]["code"] == "rate_limited"
        assert body["error"]["message"]
        assert body["error"]["details"]["limit"] == 3
    else:
        assert body == [{"code": 429, "description": ratelimit.RATE_LIMITED_MESSAGE}]


FACES = [
    # (method, path, extra): one request of each face; what the view answers does not matter, it is counted
    ("get", "/api/v1/lots/", {}),
    ("get", "/api/v1/me/plates", {}),
    ("post", "/api/v1/ingest/events", {"HTTP_X_ACCESS_KEY": "AK-ONE"}),
    ("post", "/payments/notify/wechat/", {}),
    ("get", "/wechat/", {}),
]


@pytest.mark.parametrize(("method", "path", "extra"), FACES, ids=[p for _, p, _ in FACES])
def test_the_request_past_the_limit_is_429_with_retry_after_and_the_spec_body(client, city, method, path, extra):
    statuses = _spend(client, method, path, 3, **extra)
    assert 429 not in statuses
    _assert_limited(getattr(client, method)(path, **extra))


def test_open311_says_it_in_its_own_error_array(client, city):
    assert 429 not in _spend(client, "get", "/open311/v2/services.json", 3)
    _assert_limited(client.get("/open311/v2/services.json"), spec_body=False)


def test_clients_are_counted_apart(client, city):
    _spend(client, "get", "/api/v1/lots/", 3, REMOTE_ADDR="10.0.0.1")
    assert client.get("/api/v1/lots/", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.get("/api/v1/lots/", REMOTE_ADDR="10.0.0.2").status_code == 200
    # another face of the same address has its own count
    assert client.get("/open311/v2/services.json", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_a_device_key_is_counted_with_its_address(client, city):
    _spend(client, "post", "/api/v1/ingest/events", 3, HTTP_X_ACCESS_KEY="AK-ONE")
    assert client.post("/api/v1/ingest/events", HTTP_X_ACCESS_KEY="AK-ONE").status_code == 429
    assert client.post("/api/v1/ingest/events", HTTP_X_ACCESS_KEY="AK-TWO").status_code == 401
    # someone elsewhere sending the same key does not spend the lot's allowance
    assert client.post("/api/v1/ingest/events", HTTP_X_ACCESS_KEY="AK-ONE", REMOTE_ADDR="10.9.9.9").status_code == 401


def test_callbacks_are_counted_by_provider(client, city):
    _spend(client, "post", "/payments/notify/wechat/", 3)
    assert client.post("/payments/notify/wechat/").status_code == 429
    assert client.post("/payments/notify/alipay/").status_code != 429


def test_citizens_are_counted_by_who_they_are_not_where_they_are(client, city, django_user_model):
    one = django_user_model.objects.create_user("c1")
    two = django_user_model.objects.create_user("c2")
    client.force_login(one)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert client.get("/api/v1/me/plates", REMOTE_ADDR=address).status_code == 200
    assert client.get("/api/v1/me/plates", REMOTE_ADDR="10.0.0.4").status_code == 429
    client.force_login(two)
    assert client.get("/api/v1/me/plates", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_staff_api_and_admin_are_not_limited_here(client, city):
    assert 429 not in _spend(client, "get", "/api/v1/staff/lots/", 5)


def test_a_forwarded_address_is_believed_only_from_the_configured_header(client, city):
    _spend(client, "get", "/api/v1/lots/", 3, HTTP_X_FORWARDED_FOR="1.1.1.1")
    # no header configured: REMOTE_ADDR is the client, a forged X-Forwarded-For changes nothing
    assert client.get("/api/v1/lots/", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429
    with override_settings(RATE_LIMIT_CLIENT_IP_HEADER="X-Real-IP"):
        assert client.get("/api/v1/lots/", HTTP_X_REAL_IP="3.3.3.3").status_code == 200
        # the proxy's entry is the last one: a client's own prefix does not move it
        _spend(client, "get", "/api/v1/lots/", 2, HTTP_X_REAL_IP="6.6.6.6, 3.3.3.3")
        assert client.get("/api/v1/lots/", HTTP_X_REAL_IP="7.7.7.7, 3.3.3.3").status_code == 429


def test_the_window_ends_and_retry_after_counts_down_to_it():
    first = [ratelimit.hit("t", "k", limit=2, window=60, now=6000.0 + i) for i in range(3)]
    assert [d.allowed for d in first] == [True, True, False]
    assert first[2].retry_after == 58  # the window [6000, 6060) ends 58 s after 6002
    assert ratelimit.hit("t", "k", limit=2, window=60, now=6060.0).allowed


def test_a_cache_that_fails_lets_requests_through_and_says_so(client, city, caplog):
    down = {**settings.CACHES, "ratelimit": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                             "LOCATION": "redis://127.0.0.1:1/0",
                                             "OPTIONS": {"socket_connect_timeout": 0.2}}}
    with override_settings(CACHES=down, RATE_LIMIT_CACHE="ratelimit"), caplog.at_level(logging.WARNING):
        assert 429 not in _spend(client, "get", "/api/v1/lots/", 5)
    assert [r for r in caplog.records if r.name == "apps.common.ratelimit" and "unreachable" in r.getMessage()]


_OTHER_PROCESS = """
import django, json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "wuxi_parking.settings.test"
django.setup()
from django.conf import settings
from django.test import override_settings
from apps.common import ratelimit
caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": sys.argv[1]}}
with override_settings(CACHES=caches):
    print(json.dumps([ratelimit.hit("x", "one-client", limit=5, window=3600, now=1e9).allowed for _ in range(3)]))
"""


@pytest.mark.redis
def test_two_processes_share_one_count_on_redis():
    allowed_here = [ratelimit.hit("x", "one-client", limit=5, window=3600, now=1e9).allowed for _ in range(3)]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wuxi_parking.settings.test"}
    out = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, settings.CACHES["default"]["KEY_PREFIX"]],
                         env=env, capture_output=True, text=True, timeout=60, check=True, cwd=settings.BASE_DIR)
    allowed_there = json.loads(out.stdout.strip().splitlines()[-1])
    # 3 here + 3 there against one limit of 5: the sixth, whichever process sent it, is refused
    assert allowed_here == [True, True, True]
    assert allowed_there == [True, True, False]
