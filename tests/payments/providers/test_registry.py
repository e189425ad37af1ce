"""The four channels are registered by the app and offered only when their keys are set."""

from __future__ import annotations

import os

import pytest

from apps.payments import providers
from apps.payments.providers import alipay, etc, unionpay, wechat  # noqa: F401  (the app's ready() loads them)
from apps.payments.providers.base import NoticeRefused, ProviderError
from tests.payments.fakes import AlipayGateway, EtcGateway, UnionPayGateway, WeChatGateway, pay_request

GATEWAYS = {"wechat": WeChatGateway, "alipay": AlipayGateway, "unionpay": UnionPayGateway, "etc": EtcGateway}


def test_every_channel_registers():
    assert {"wechat", "alipay", "unionpay", "etc"} <= set(providers.codes())


@pytest.mark.parametrize("code", sorted(GATEWAYS))
def test_a_channel_missing_any_setting_is_not_offered(code, settings):
    with GATEWAYS[code]() as gateway:
        for name, value in gateway.settings.items():
            setattr(settings, name, value)
        assert providers.get(code).is_configured() is True
        assert (code in providers.citizen_channels()) is providers.get(code).citizen_channel
        for name, value in gateway.settings.items():
            setattr(settings, name, "")
            provider = providers.get(code)
            assert provider.is_configured() is False, name
            assert code not in providers.citizen_channels()
            with pytest.raises(NoticeRefused):
                provider.parse_notice({}, b"{}")
            setattr(settings, name, value)


@pytest.mark.parametrize("code", ["wechat", "alipay", "unionpay"])
def test_an_unconfigured_channel_makes_no_call(code, settings):
    for name in GATEWAYS[code]().settings:
        setattr(settings, name, "")
    with pytest.raises(ProviderError) as exc:
        providers.get(code).start(pay_request())
    assert exc.value.code == "not_configured" and exc.value.retry is False


def test_no_key_is_committed():
    """Keys come from the environment only: the settings default to empty."""
    from wuxi_parking.settings import env

    for name in ("WECHAT_PAY_MCH_PRIVATE_KEY", "WECHAT_PAY_APIV3_KEY", "WECHAT_PAY_PUBLIC_KEY", "ALIPAY_PRIVATE_KEY",
                 "ALIPAY_PUBLIC_KEY", "UNIONPAY_SIGN_KEY", "UNIONPAY_VERIFY_KEY", "ETC_KEY"):
        assert getattr(env, name) == "" or name in os.environ, name
    assert env.WECHAT_PAY_API_BASE == "https://api.mch.weixin.qq.com" or "WECHAT_PAY_API_BASE" in os.environ
