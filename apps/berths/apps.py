from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class BerthsConfig(AppConfig):
    name = "apps.berths"
    verbose_name = pgettext_lazy("plural", "泊位")
