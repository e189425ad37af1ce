from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BerthsConfig(AppConfig):
    name = "apps.berths"
    verbose_name = _("泊位")
