"""The sandbox pays without money: offered by default, but never under production settings unless
explicitly turned on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"SECRET_KEY": "k", "DEVICE_SECRET_KEY": "d", "PLATE_HASH_SALT": "s", "REDIS_URL": "redis://127.0.0.1:6379/0",
              "WECHAT_SITE_URL": "https://parking.wuxi.gov.cn"}


def _sandbox(module: str, **env: str) -> str:
    clean = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": module, **env}
    code = "import django; django.setup(); from django.conf import settings as s; print(s.PAYMENT_SANDBOX)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(("module", "env", "expected"), [
    ("wuxi_parking.settings.base", {"DEBUG": "true"}, "True"),
    ("wuxi_parking.settings.production", PRODUCTION, "False"),
    ("wuxi_parking.settings.production", {**PRODUCTION, "PAYMENT_SANDBOX": "true"}, "True"),
    ("wuxi_parking.settings.base", {"DEBUG": "true", "PAYMENT_SANDBOX": "false"}, "False"),
])
def test_the_sandbox_is_off_in_production_unless_turned_on(tmp_path, module, env, expected):
    assert _sandbox(module, SQLITE_PATH=str(tmp_path / "x.sqlite3"), **env) == expected
