"""``manage.py export_open_data --day YYYY-MM-DD [--dir PATH]``: one day's open-data folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.analytics import export, rollups

from .analytics_rollup import parse_day


class Command(BaseCommand):
    help = _("导出某日的开放数据（NGSI-LD 实体、日汇总 CSV 与含 SHA-256 的清单）到 ANALYTICS_EXPORT_DIR。")

    def add_arguments(self, parser):
        parser.add_argument("--day", help=_("日期 YYYY-MM-DD（本地时间），默认昨天"))
        parser.add_argument("--dir", help=_("导出目录，默认 ANALYTICS_EXPORT_DIR"))

    def handle(self, *args, day: str | None, dir: str | None, **options):
        wanted = parse_day(day, "--day") if day else rollups.local_day(timezone.now()) - timedelta(days=1)
        folder = export.open_data_export(day=wanted, root=Path(dir) if dir else None)
        self.stdout.write(str(folder))
