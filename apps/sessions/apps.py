from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParkingSessionsConfig(AppConfig):
    name = "apps.sessions"
    label = "parking_sessions"  # Django's own sessions app holds the plain label
    verbose_name = _("停车记录")
