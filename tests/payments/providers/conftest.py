"""Each provider's fake gateway, running for the test, with our settings pointed at it."""

from tests.payments.fakes import alipay_gw, etc_gw, unionpay_gw, wechat_gw

__all__ = ["alipay_gw", "etc_gw", "unionpay_gw", "wechat_gw"]
