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
        from apps.lots.forecasts import register_forecast_source
        from apps.regions.models import StaffScope
        from apps.regions.services import extend_staff_permissions

        from .dashboards import tasks  # noqa: F401  (the region rollup's Celery task)
        from .forecast import forecast_expression

        register_forecast_source(forecast_expression)  # SPEC §4 ``forecast`` on every public lot read

        for kind, codenames in SUPERVISION_PERMISSIONS.items():
            extend_staff_permissions(kind, self.label, codenames)
        # Every member of staff opens the dashboards (scope decides what they hold) and reads the targets;
        # the targets are set through the admin by the city (city-wide) or a district (its own).
        for kind in StaffScope.Kind.values:
            extend_staff_permissions(kind, self.label, ["view_dashboard", "view_target"])
        for kind in (StaffScope.Kind.CITY, StaffScope.Kind.REGION):
            extend_staff_permissions(kind, self.label, ["add_target", "change_target"])
