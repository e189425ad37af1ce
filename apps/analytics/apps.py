from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

#: what each kind of staff may do in supervision's admin (the regions app's groups); rows by scope
SUPERVISION_PERMISSIONS = {
    "city": ["view_supervisioncase", "change_supervisioncase", "view_casechange", "view_supervisionrule",
             "change_supervisionrule"],
    "region": ["view_supervisioncase", "change_supervisioncase", "view_casechange", "view_supervisionrule"],
    "operator": ["view_supervisioncase", "change_supervisioncase", "view_casechange", "view_supervisionrule"],
}


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    verbose_name = _("监管与开放数据")

    def ready(self):
        from apps.regions.services import extend_staff_permissions

        for kind, codenames in SUPERVISION_PERMISSIONS.items():
            extend_staff_permissions(kind, self.label, codenames)
