"""Each provider's fake gateway, running for the test, with our settings pointed at it."""

from __future__ import annotations

import pytest

from tests.payments.fakes import AlipayGateway, EtcGateway, UnionPayGateway, WeChatGateway


def _running(gateway_class, settings):
    with gateway_class() as gateway:
        for name, value in gateway.settings.items():
            setattr(settings, name, value)
        yield gateway


@pytest.fixture
def wechat_gw(settings):
    yield from _running(WeChatGateway, settings)


@pytest.fixture
def alipay_gw(settings):
    yield from _running(AlipayGateway, settings)


@pytest.fixture
def unionpay_gw(settings):
    yield from _running(UnionPayGateway, settings)


@pytest.fixture
def etc_gw(settings):
    yield from _running(EtcGateway, settings)
