"""``manage.py analytics_rollup --from YYYY-MM-DD --to YYYY-MM-DD``: backfill the summary tables."""

from __future__ import annotations

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from apps.analytics import rollups

MAX_DAYS = 400


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = _("%(name)s 须为 YYYY-MM-DD 格式的日期：%(value)s") % {"name": name, "value": text}
        raise CommandError(message) from None


class Command(BaseCommand):
    help = _("按本地日期重新计算小时汇总和日汇总（含首尾两天），可重复运行。")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help=_("起始日期 YYYY-MM-DD（本地时间）"))
        parser.add_argument("--to", dest="last", required=True, help=_("结束日期 YYYY-MM-DD（含）"))

    def handle(self, *args, first: str, last: str, **options):
        start, end = parse_day(first, "--from"), parse_day(last, "--to")
        if end < start:
            raise CommandError(_("--to 不能早于 --from"))
        if (end - start).days + 1 > MAX_DAYS:
            raise CommandError(_("一次最多 %(n)d 天") % {"n": MAX_DAYS})
        began = time.monotonic()
        hours, days = rollups.roll_up_range(start, end)
        done = _("已汇总 %(first)s 至 %(last)s：小时汇总 %(hours)d 行，日汇总 %(days)d 行（%(s).1f 秒）。")
        self.stdout.write(done % {"first": start, "last": end, "hours": hours, "days": days,
                                  "s": time.monotonic() - began})
