from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

#: what each kind of staff may do in the hotline's admin (the regions app's groups)
STAFF_PERMISSIONS = {
    "city": ["view_ticket", "add_ticket", "change_ticket", "view_ticketchange", "view_category", "add_category",
             "change_category", "view_localday", "add_localday", "change_localday", "delete_localday",
             "view_unit", "add_unit", "change_unit", "view_dispatchrule", "add_dispatchrule",
             "change_dispatchrule", "delete_dispatchrule", "view_open311key", "change_open311key"],
    "region": ["view_ticket", "add_ticket", "change_ticket", "view_ticketchange", "view_category", "view_localday",
               "view_unit", "view_dispatchrule", "add_dispatchrule", "change_dispatchrule", "delete_dispatchrule"],
    "operator": ["view_ticket", "change_ticket", "view_ticketchange", "view_category", "view_unit"],
}


class ComplaintsConfig(AppConfig):
    name = "apps.complaints"
    verbose_name = _("24小时热线")

    def ready(self):
        from apps.regions.services import extend_staff_permissions

        from . import answers

        answers.register()  # WeChat's 投诉 opens tickets here (apps.common.tickets)
        from apps.common.privacy import register_plate_exporter

        from .privacy import export_tickets

        register_plate_exporter("complaints", export_tickets)  # a plate owner's export (PIPL)
        for kind, codenames in STAFF_PERMISSIONS.items():
            extend_staff_permissions(kind, "complaints", codenames)
