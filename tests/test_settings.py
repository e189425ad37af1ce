"""Settings read the environment in one module and refuse unsafe combinations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(module: str, **env: str) -> subprocess.CompletedProcess:
    """Import a settings module in a clean interpreter with exactly this environment."""
    clean = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": module, **env}
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
            "s.CACHES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=60)


def test_embedded_defaults_without_database_or_redis(tmp_path):
    result = load("wuxi_parking.settings.base", DEBUG="true", SQLITE_PATH=str(tmp_path / "x.sqlite3"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer",
                                     "django.core.cache.backends.locmem.LocMemCache", "True", "True"]


def test_database_and_redis_urls_switch_every_backend():
    result = load("wuxi_parking.settings.base", SECRET_KEY="k", DATABASE_URL="postgres://u@127.0.0.1:5432/db",
                  REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "channels_redis.core.RedisChannelLayer",
                                     "apps.common.redis_cache.SharedRedisCache", "False", "False"]


def test_sqlite_uses_wal_and_waits_for_the_write_lock():
    from django.conf import settings

    if "sqlite" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("the embedded default only applies without DATABASE_URL")
    options = settings.DATABASES["default"]["OPTIONS"]
    assert "journal_mode=WAL" in options["init_command"]
    assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] >= 5


def test_secret_key_is_required_unless_debug():
    result = load("wuxi_parking.settings.base")
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(("env", "complaint"), [
    ({"SECRET_KEY": "k", "PLATE_HASH_SALT": "s", "REDIS_URL": "redis://127.0.0.1:6379/0"},
     "DEVICE_SECRET_KEY is required"),
    ({"SECRET_KEY": "k", "DEVICE_SECRET_KEY": "d", "REDIS_URL": "redis://127.0.0.1:6379/0"},
     "PLATE_HASH_SALT is required"),
    ({"SECRET_KEY": "k", "DEVICE_SECRET_KEY": "d", "PLATE_HASH_SALT": "s"}, "REDIS_URL is required"),
    ({"SECRET_KEY": "k", "DEVICE_SECRET_KEY": "d", "PLATE_HASH_SALT": "s", "REDIS_URL": "redis://127.0.0.1:6379/0",
      "DEBUG": "true"},
     "DEBUG must be off"),
    ({"SECRET_KEY": "k", "DEVICE_SECRET_KEY": "d", "PLATE_HASH_SALT": "s", "REDIS_URL": "redis://127.0.0.1:6379/0"},
     "WECHAT_SITE_URL is required"),
])
def test_production_refuses_unsafe_settings(env, complaint):
    result = load("wuxi_parking.settings.production", **env)
    assert result.returncode != 0 and complaint in result.stderr


def test_production_starts_with_what_it_needs():
    result = load("wuxi_parking.settings.production", SECRET_KEY="k", DEVICE_SECRET_KEY="d", PLATE_HASH_SALT="s",
                  REDIS_URL="redis://127.0.0.1:6379/0", DATABASE_URL="postgres://u@127.0.0.1:5432/db",
                  WECHAT_SITE_URL="https://parking.wuxi.gov.cn")
    assert result.returncode == 0, result.stderr
