"""Secrets come only from the environment: the production settings refuse a value that is in the code,
the docs or the demo, or an obvious placeholder, by name and without echoing it; and the second factor
cannot be turned off outside the embedded demo."""

from __future__ import annotations

import pytest

from tests.test_settings import load

PRODUCTION = {"SECRET_KEY": "k3y-x7Qp2LmN9vR4sT8wY1zA5bC6dE0fG3hJ", "DEVICE_SECRET_KEY": "d3v-Qp2LmN9vR4sT8wY1",
              "PLATE_HASH_SALT": "s4lt-Qp2LmN9vR4sT8wY1zA5bC6", "WECHAT_SITE_URL": "https://parking.wuxi.gov.cn",
              "REDIS_URL": "redis://127.0.0.1:6379/0", "DATABASE_URL": "postgres://u@127.0.0.1:5432/db"}


def test_production_starts_with_real_looking_secrets():
    result = load("wuxi_parking.settings.production", **PRODUCTION, WECHAT_TOKEN="t0k3n-real", ETC_KEY="e-9Xa")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("name", "value"), [
    ("SECRET_KEY", "insecure-development-key-only-for-debug"),
    ("SECRET_KEY", "test-secret-key-not-for-production"),
    ("SECRET_KEY", "django-insecure-abc123"),
    ("DEVICE_SECRET_KEY", "changeme"),
    ("WECHAT_TOKEN", "wuxi-demo-wechat-token"),
    ("WECHAT_ENCODING_AES_KEY", "wuxiDemoEncodingAesKey0123456789abcdefghijk"),
    ("WECHAT_APP_SECRET", "secret"),
    ("WECHAT_PAY_APIV3_KEY", "00000000000000000000000000000000"),
    ("ALIPAY_PRIVATE_KEY", "CHANGEME"),
    ("UNIONPAY_SIGN_KEY", "test"),
    ("ETC_KEY", "xxxxxxxx"),
])
def test_production_refuses_a_default_or_placeholder_secret_by_name(name, value):
    result = load("wuxi_parking.settings.production", **{**PRODUCTION, name: value})
    assert result.returncode != 0
    assert f"{name} is a default or placeholder value" in result.stderr
    refusal = result.stderr.strip().splitlines()[-1]
    assert len(value) < 8 or value not in refusal  # it names the setting, never repeats a real-length value


def test_the_device_key_must_not_be_the_secret_key():
    result = load("wuxi_parking.settings.production", **{**PRODUCTION, "DEVICE_SECRET_KEY": PRODUCTION["SECRET_KEY"]})
    assert result.returncode != 0 and "DEVICE_SECRET_KEY must differ" in result.stderr


def test_the_second_factor_is_off_only_in_the_embedded_demo(tmp_path):
    sqlite = str(tmp_path / "x.sqlite3")
    refused = load("wuxi_parking.settings.production", **PRODUCTION, OTP_REQUIRED="false")
    assert refused.returncode != 0 and "OTP_REQUIRED=false is only for the embedded demo" in refused.stderr
    on_postgres = load("wuxi_parking.settings.base", DEBUG="true", OTP_REQUIRED="false",
                       DATABASE_URL="postgres://u@127.0.0.1:5432/db")
    assert on_postgres.returncode != 0
    assert load("wuxi_parking.settings.base", DEBUG="true", OTP_REQUIRED="false", SQLITE_PATH=sqlite).returncode == 0


def test_the_demo_city_opens_with_passwords_and_everything_else_asks_for_the_code(tmp_path):
    from wuxi_parking.settings import env

    assert env.otp_required(debug=True, embedded=True) is False  # `make run`: the demo users log in
    assert env.otp_required(debug=True, embedded=False) is True
    assert env.otp_required(debug=False, embedded=True) is True
