"""Admin discovery without GeoDjango, and the site with the login's second factor.

django-leaflet's own admin module imports GeoDjango form widgets, which need the GDAL C library.
The platform stores plain WGS-84 lat/lon (DESIGN.md) and uses Leaflet through its own small
widget, so the admin discovers every app's admin module except leaflet's: no GDAL on any machine.

``admin.site`` is ``apps.common.admin_login.ParkingAdminSite`` (the TOTP code at login and the
enrolment page; apps/common/mfa.py): that module imports forms and models, so it is named here
by its path, not imported while the apps load.
"""

from importlib import import_module

from django.apps import apps
from django.contrib.admin.apps import SimpleAdminConfig
from django.utils.module_loading import module_has_submodule

SKIP_ADMIN_DISCOVERY = {"leaflet"}


class ParkingAdminConfig(SimpleAdminConfig):
    default_site = "apps.common.admin_login.ParkingAdminSite"

    def ready(self):
        super().ready()
        for app_config in apps.get_app_configs():
            if app_config.name in SKIP_ADMIN_DISCOVERY:
                continue
            if module_has_submodule(app_config.module, "admin"):
                import_module(f"{app_config.name}.admin")
