from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RealtimeConfig(AppConfig):
    name = "apps.realtime"
    verbose_name = _("实时推送")
