from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "apps.regions"
    verbose_name = _("区域与经营单位")

    def ready(self):
        from apps.common.scope import register_staff_scope_resolver

        from .selectors import scope_for_staff

        register_staff_scope_resolver(scope_for_staff)
