from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class LotsConfig(AppConfig):
    name = "apps.lots"
    verbose_name = pgettext_lazy("plural", "停车场")
