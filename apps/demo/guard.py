"""The one check every demo command runs first: never on a production deployment."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

__all__ = ["refuse_production"]


def refuse_production() -> None:
    """Raise ``CommandError`` under ``wuxi_parking.settings.production``: the demo logins share a
    published password, and the simulator invents cars and pushes them into the live registry."""
    if str(getattr(settings, "SETTINGS_MODULE", "")).endswith(".production"):
        raise CommandError(_("生产环境配置下拒绝运行演示命令（演示账号使用公开密码，模拟器会伪造车辆进出）。"))
