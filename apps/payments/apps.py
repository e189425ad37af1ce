import pkgutil
from importlib import import_module

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    verbose_name = _("支付与结算")

    def ready(self):
        from apps.regions.models import StaffScope
        from apps.regions.services import extend_staff_permissions
        from apps.sessions.release import register_release_provider

        from . import providers
        from .release import AgreementCover

        # Every module in providers/ registers its channel at import (base and the registry aside).
        for module in pkgutil.iter_modules(providers.__path__):
            if module.name != "base":
                import_module(f"{providers.__name__}.{module.name}")
        register_release_provider(AgreementCover())
        # Privacy: an unpaid order keeps its stays' plates in clear; what payments holds for a plate's export.
        from apps.common.privacy import register_plate_exporter
        from apps.sessions.retention import register_retention_hold

        from . import privacy

        register_retention_hold(privacy.sessions_in_open_orders)
        register_retention_hold(privacy.sessions_of_arrears_in_open_orders)
        register_plate_exporter("payments", privacy.export_payments)
        # Staff read their scope's money and print their lots' codes; they close payment exceptions.
        for kind in StaffScope.Kind.values:
            extend_staff_permissions(kind, self.label, [
                "view_order", "view_orderitem", "view_payment", "view_paymentexception", "change_paymentexception",
                "view_refund", "view_paymentagreement", "view_paycodelot"])
        # Refund notices' handler, and the staff admin of the money that follows an order.
        from . import admin_money, refunds

        admin_money.extend_permissions(self.label)
        # A hotline fee dispute starts a refund here (apps.complaints asks through its port).
        from apps.complaints.ports import register_refund_starter

        register_refund_starter(refunds.refund_for_dispute)
