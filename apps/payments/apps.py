from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    verbose_name = _("支付与结算")

    def ready(self) -> None:
        # Each provider module registers its class on import (providers/__init__.py).
        from .providers import alipay, etc, unionpay, wechat  # noqa: F401
