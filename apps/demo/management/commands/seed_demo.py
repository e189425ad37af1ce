"""``manage.py seed_demo [--lots N] [--seed S] [--if-empty] [--history-days D]``: the demo city on an empty
database, with D days of made-up history (occupancy samples, stays and money, rolled up) behind it."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from apps.common.errors import DomainError
from apps.demo.guard import refuse_production
from apps.demo.history import FORECAST_DAYS, demo_history_seed
from apps.demo.seed import demo_city_seed


class Command(BaseCommand):
    help = _("生成确定性的无锡演示城市（区域、收费标准、经营单位、停车场、泊位、演示账号）。仅用于演示和测试。")

    def add_arguments(self, parser):
        parser.add_argument("--lots", type=int, default=400, help=_("停车场数量（默认 400）"))
        parser.add_argument("--seed", type=int, default=2026, help=_("随机种子：相同种子生成相同数据（默认 2026）"))
        parser.add_argument("--if-empty", action="store_true",
                            help=_("已有停车场时什么也不做（make run 使用）；不加此项时已有数据会报错"))
        parser.add_argument("--history-days", type=int, default=0,
                            help=_("再生成这么多天的历史数据（余位采样、停车记录与费用，并汇总），"
                                   "默认 0；make run 用 30"))

    def handle(self, *args, lots: int, seed: int, if_empty: bool, history_days: int, **options):
        refuse_production()
        started = time.monotonic()
        try:
            city = demo_city_seed(lots=lots, seed=seed, if_empty=if_empty)
        except DomainError as exc:  # a refusal, or a fixture the fee engine rejects
            raise CommandError(exc.message)
        if city.skipped:
            self.stdout.write(_("已有 %(n)d 个停车场，跳过演示数据。") % {"n": city.existing_lots})
            return
        if history_days < 0:
            raise CommandError(_("--history-days 不能为负数"))
        self.stdout.write(self.style.SUCCESS(
            _("演示城市已生成（种子 %(seed)d，%(s).1f 秒）：%(lots)d 个停车场（其中道路泊位 %(street)d 个，"
              "泊位 %(berths)d 个），医院 %(hospitals)d 个，新建经营单位 %(operators)d 个，收费标准 %(tariffs)d 个，"
              "免费时段 %(windows)d 个。") % {
                "seed": seed, "s": time.monotonic() - started, "lots": city.lots, "street": city.on_street_lots,
                "berths": city.berths, "hospitals": city.hospitals, "operators": city.operators,
                "tariffs": city.tariffs, "windows": city.free_windows}))
        self.stdout.write(_("预约点 %(sites)d 个，预约时段 %(slots)d 个，预约 %(reservations)d 个，"
                            "错时共享 %(offers)d 个。") % city.bookings)
        self.stdout.write(_("热线工单 %(n)d 个（各种状态，部分已超期督办）。") % {"n": city.tickets})
        self.stdout.write(_("演示账号（仅供演示，切勿用于生产环境）："))
        for login in city.logins:
            password = login.password if login.password is not None else _("（已存在，未修改）")
            self.stdout.write(f"  {login.username:<10} {password:<16} {login.scope}")
        if history_days:
            history = demo_history_seed(days=history_days, seed=seed)
            done = _("历史数据 %(days)d 天（%(s).1f 秒）：余位采样 %(samples)d 条，停车记录 %(stays)d 条"
                     "（欠费 %(arrears)d 条），离线 %(outages)d 次，小时汇总 %(hours)d 行，日汇总 %(day_rows)d 行。")
            self.stdout.write(done % {"days": history.days, "s": history.seconds, "samples": history.samples,
                                      "stays": history.stays, "arrears": history.arrears,
                                      "outages": history.outages, "hours": history.hour_rows,
                                      "day_rows": history.day_rows})
            if history.forecast_lots:
                self.stdout.write(_(
                    "余位预测：%(lots)d 个停车场有近 %(days)d 天的 5 分钟采样；定时任务启动时即在留出日上评估，"
                    "仅为优于朴素基线的停车场发布预测。") % {"lots": history.forecast_lots, "days": FORECAST_DAYS})
