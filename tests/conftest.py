"""Shared fixtures. Services a test needs are declared with markers:

- ``@pytest.mark.postgres``: the test needs PostgreSQL (DATABASE_URL); ``@pytest.mark.redis``: Redis.
  Missing service → skipped locally, but a failure when CI=true, so CI never passes by skipping.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.required import missing as _missing


def pytest_runtest_setup(item):
    if not settings.configured:
        return
    if item.get_closest_marker("postgres") and "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        _missing("needs PostgreSQL: set DATABASE_URL=postgres://…")
    if item.get_closest_marker("redis"):
        if not settings.REDIS_URL:
            _missing("needs Redis: set REDIS_URL=redis://…")
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            _missing(f"Redis at REDIS_URL is not answering: {exc}")


@pytest.fixture(autouse=True)
def _midday(request):
    """``@pytest.mark.midday``: the test runs from today's 12:00 in Wuxi, its clock ticking on.

    Tests that price a stay ending now, on the payments tests' flat tariff (one all-day band), would
    otherwise be charged one unit more whenever the stay crosses local midnight: SPEC §6 rule 3 ends
    a unit at its band occurrence's end, and "00:00"–"24:00" occurs once a calendar day. CI runs at
    any hour; the fee must not. Only Python's clock moves (not PostgreSQL's ``now()``, nor a server in
    another process), so the mark is for tests that run the platform in this process."""
    if request.node.get_closest_marker("midday") is None:
        yield
        return
    import datetime as dt

    import time_machine
    from django.utils import timezone

    noon = dt.datetime.combine(timezone.localdate(), dt.time(12), tzinfo=timezone.get_default_timezone())
    with time_machine.travel(noon, tick=True):
        yield


#: the ports' registrations (STYLE.md "Ports"): the apps fill them in ready(); a test that replaces
#: one (a double, or None for "nothing registered") gets the apps' own back after it
_PORTS = (
    ("apps.common.citizens", ("_resolver", "_openid_resolver")),
    ("apps.common.notices", ("_notifier",)),
    ("apps.common.tickets", ("_opener", "_form_path")),
    ("apps.common.scope", ("_staff_scope_resolver",)),
    ("apps.complaints.ports", ("_notice_senders", "_refund_starter")),
    ("apps.reservations.notify", ("_notifiers",)),
    ("apps.sessions.release", ("_providers",)),
    ("apps.lots.forecasts", ("_source",)),
    ("apps.payments.notify", ("_handlers",)),
)


@pytest.fixture(autouse=True)
def _restore_ports():
    if not settings.configured:
        yield
        return
    import copy
    import importlib

    saved = []
    for name, attributes in _PORTS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attribute in attributes:
            if hasattr(module, attribute):
                saved.append((module, attribute, copy.copy(getattr(module, attribute))))
    yield
    for module, attribute, value in saved:
        current = getattr(module, attribute, None)
        if isinstance(value, list) and isinstance(current, list):
            current[:] = value  # in place: whoever holds the registry object sees it restored
        elif isinstance(value, dict) and isinstance(current, dict):
            current.clear()
            current.update(value)
        else:
            setattr(module, attribute, value)


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(monkeypatch):
    """``client.force_login`` is a full login, TOTP code included (tests/otp.py)."""
    if not settings.configured:
        yield
        return
    from django.test import Client

    from tests.otp import force_login_verified

    monkeypatch.setattr(Client, "force_login", force_login_verified)
    yield


@pytest.fixture(autouse=True)
def _clear_cache():
    """Nonces and cached snapshots must not leak from one test to the next."""
    if not settings.configured:  # pure-module tests run with -p no:django
        yield
        return
    from django.core.cache import cache

    if settings.REDIS_URL:
        # RedisCache.clear() would FLUSHDB; delete only this run's keys.
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """channels caches one layer instance per process; channels_redis binds locks and pools to
    the event loop that first used them, and every async test runs its own loop. A fresh layer
    per test keeps one test's loop out of the next."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def city(db):
    """Wuxi's divisions (the same data seed_demo loads)."""
    from apps.regions.services import regions_load_wuxi

    return regions_load_wuxi()


@pytest.fixture
def staff_factory(db, city):
    """Make a staff user with a scope: staff_factory("region", "320213") / ("operator", op) / ("city",)."""
    from apps.regions.models import Region, StaffScope
    from tests.factories import UserFactory

    def make(kind: str, target=None, **user_kwargs):
        user = UserFactory(is_staff=True, **user_kwargs)
        region = Region.objects.get(code=target) if kind == "region" else None
        operator = target if kind == "operator" else None
        StaffScope.objects.create(user=user, kind=kind, region=region, operator=operator)
        from apps.regions.services import staff_grant_default_permissions

        staff_grant_default_permissions(user=user)
        return user

    return make


@pytest.fixture
def officer(staff_factory):
    """A 梁溪 (320213) officer: the usual side of the cross-region tests."""
    return staff_factory("region", "320213")


@pytest.fixture
def logged_in(client, officer):
    """The Django test client logged in as ``officer``."""
    client.force_login(officer)
    return client


@pytest.fixture
def notice_requests():
    """The notices asked for through ``apps.common.notices`` (its ``NoticeRequest``s), instead of the
    registered notifier, which is put back afterwards."""
    from apps.common import notices

    asked = []
    before = notices._notifier
    notices.register_notifier(asked.append)
    yield asked
    notices.register_notifier(before)
