from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "apps.analytics"
    verbose_name = _("监管与开放数据")

    def ready(self):
        from apps.lots.forecasts import register_forecast_source

        from .forecast import forecast_expression

        register_forecast_source(forecast_expression)  # SPEC §4 ``forecast`` on every public lot read
