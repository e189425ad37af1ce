from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReservationsConfig(AppConfig):
    name = "apps.reservations"
    verbose_name = _("预约与共享停车")
