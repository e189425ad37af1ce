from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "apps.complaints"
    verbose_name = _("24小时热线")
