"""Region rollups (issue 11 item 4): ``RegionDay`` and ``RegionHour`` recomputed whole for a local day
from that day's ``LotDay`` and ``LotHour`` rows, in one transaction (idempotent: a re-run after a late
lot day replaces, never adds). Run after the lot rollups of the day (``region_rollup`` task)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from ..models import LotDay, LotHour, RegionDay, RegionHour

#: a lot day counts as "over 90%" when its busiest hour averaged at least this share of its berths
PEAK_RATIO = 0.9


@transaction.atomic
def region_days_refresh(*, day: date) -> tuple[int, int]:
    """Recompute the region rollups of ``day``; returns how many day and hour rows it wrote."""
    RegionDay.objects.filter(day=day).delete()
    RegionHour.objects.filter(day=day).delete()
    days = [RegionDay(day=day, region_id=r["region"], operator_id=r["operator"], lots=r["lots"],
                      total_berths=r["berths"] or 0, occupied_sum=r["occupied"] or 0.0,
                      sessions_closed=r["closed"] or 0, entries=r["entries_sum"] or 0,
                      lot_days_over_90=r["over"], billed_fen=r["billed"] or 0, paid_fen=r["paid"] or 0,
                      waived_fen=r["waived"] or 0, arrears_new_fen=r["arrears"] or 0,
                      arrears_recovered_fen=r["recovered"] or 0)
            for r in LotDay.objects.filter(day=day).values("region", "operator").annotate(
                lots=Count("pk"), berths=Sum("total_berths"), occupied=Sum("occupied_avg"),
                closed=Sum("sessions_closed"), entries_sum=Sum("entries"),
                over=Count("pk", filter=Q(peak_ratio__gte=PEAK_RATIO)), billed=Sum("billed_fen"),
                paid=Sum("paid_fen"), waived=Sum("waived_fen"), arrears=Sum("arrears_new_fen"),
                recovered=Sum("arrears_recovered_fen")).order_by()]
    tz = timezone.get_current_timezone()
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    hours = [RegionHour(day=day, hour_of_day=r["hour_of_day"], weekday=r["weekday"], region_id=r["lot__region"],
                        operator_id=r["lot__operator"], total_berths=r["berths"] or 0,
                        occupied_sum=r["occupied"] or 0.0, entries=r["entries_sum"] or 0)
             for r in LotHour.objects.filter(hour__gte=start, hour__lt=end).values(
                 "lot__region", "lot__operator", "hour_of_day", "weekday").annotate(
                 berths=Sum("total_berths"), occupied=Sum("occupied_avg"), entries_sum=Sum("entries")).order_by()]
    RegionDay.objects.bulk_create(days, batch_size=1000)
    RegionHour.objects.bulk_create(hours, batch_size=1000)
    return len(days), len(hours)


def region_days_refresh_range(*, start: date, end: date) -> int:
    """Every day from ``start`` to ``end`` inclusive; returns the day rows written."""
    written, current = 0, start
    while current <= end:
        written += region_days_refresh(day=current)[0]
        current += timedelta(days=1)
    return written
