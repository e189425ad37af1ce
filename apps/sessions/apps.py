from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class ParkingSessionsConfig(AppConfig):
    name = "apps.sessions"
    label = "parking_sessions"  # Django's own sessions app holds the plain label
    verbose_name = pgettext_lazy("plural", "停车记录")

    def ready(self):
        from apps.common.privacy import register_plate_exporter
        from apps.regions.models import StaffScope
        from apps.regions.services import extend_staff_permissions

        from .privacy import export_sessions

        register_plate_exporter("sessions", export_sessions)  # a plate owner's export (PIPL)

        # Every member of staff reads the sessions, their money entries, arrears and ingest log of
        # their own scope; only the ingest and money services write them.
        for kind in StaffScope.Kind.values:
            extend_staff_permissions(kind, self.label, ["view_parkingsession", "view_sessionmoneyentry",
                                                        "view_arrears", "view_ingestevent"])
