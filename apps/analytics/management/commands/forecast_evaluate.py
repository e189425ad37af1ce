"""Evaluate the occupancy forecast per lot on held-out days and keep it only where it beats the baselines."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.analytics.forecast import forecasts_evaluate
from apps.analytics.forecast_model import HORIZONS

MAX_DAYS = 28


class Command(BaseCommand):
    help = ("Replay the last N complete days of each lot against the forecast and the two naive baselines "
            "(the count now; last week's count), store the errors and publish the forecast only where it beats both.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help=f"held-out days, 1–{MAX_DAYS} (default 7)")

    def handle(self, *args, days: int, **options):
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}")
        summary = forecasts_evaluate(days=days)
        self.stdout.write(f"held out {summary.held_out_from} + {summary.days} days: {summary.lots} lots, "
                          f"{summary.evaluated} with enough points, {summary.kept} kept")
        for horizon in HORIZONS if summary.mae else ():
            mae = summary.mae[horizon]
            self.stdout.write(f"  {horizon} min: MAE model {mae['model']:.2f}, now {mae['now']:.2f}, "
                              f"last week {mae['last_week']:.2f}")
