from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WechatConfig(AppConfig):
    name = "apps.wechat"
    label = "wechat"
    verbose_name = _("微信公众号")

    def ready(self):
        from apps.common.citizens import register_bound_plates, register_payer_openid
        from apps.common.notices import register_notifier
        from apps.complaints.ports import register_notice_sender
        from apps.regions.models import StaffScope
        from apps.regions.services import extend_staff_permissions

        from .notices import notice_request, ticket_status_notice
        from .selectors import bound_plates_of, pay_openid_of

        # Payments, reservations and the hotline ask these ports; they never import this app.
        register_bound_plates(bound_plates_of)
        register_payer_openid(pay_openid_of)
        register_notifier(notice_request)
        register_notice_sender(ticket_status_notice)
        # Staff read citizens, their plates and the notice log of their scope (the plates that
        # parked there); only the city may push the account's menu or send failed notices again.
        for kind in StaffScope.Kind.values:
            extend_staff_permissions(kind, self.label, ["view_citizen", "view_boundplate", "view_wechatidentity",
                                                        "view_notice"])
        extend_staff_permissions(StaffScope.Kind.CITY, self.label, ["push_menu", "resend_notice"])
