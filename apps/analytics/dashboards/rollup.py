"""Rollups of the lot summaries (issue 11 item 4), each recomputed whole (idempotent: a re-run after a
late lot day replaces, never adds), run after the lot rollups of the day (``region_rollup`` task):
``RegionDay`` and ``RegionHour`` for a local day from that day's ``LotDay`` and ``LotHour`` rows, and
``LotRecent``, each lot's last four weeks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from ..models import LotDay, LotHour, LotRecent, RegionDay, RegionHour

#: a lot day counts as "over 90%" when its busiest hour averaged at least this share of its berths
PEAK_RATIO = 0.9
#: the recent window the hotspots and the smart-compliance checks look at
RECENT_DAYS = 28


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


@transaction.atomic
def lot_recent_refresh(*, end: date) -> int:
    """Each lot's ``RECENT_DAYS`` lot days before ``end`` (excluded), added up; replaces every row."""
    rows = [LotRecent(lot_id=r["lot"], end=end, days=r["n"], days_over_90=r["over"], peak_sum=r["peak"] or 0.0,
                      entries=r["entries_sum"] or 0, exits=r["exits_sum"] or 0, online_minutes=r["online"] or 0)
            for r in LotDay.objects.filter(day__gte=end - timedelta(days=RECENT_DAYS), day__lt=end).values("lot")
            .annotate(n=Count("pk"), over=Count("pk", filter=Q(peak_ratio__gte=PEAK_RATIO)), peak=Sum("peak_ratio"),
                      entries_sum=Sum("entries"), exits_sum=Sum("exits"), online=Sum("online_minutes")).order_by()]
    LotRecent.objects.all().delete()
    LotRecent.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def region_days_refresh_range(*, start: date, end: date) -> int:
    """Every day from ``start`` to ``end`` inclusive, then the lots' recent window up to ``end``
    (included); returns the day rows written."""
    written, current = 0, start
    while current <= end:
        written += region_days_refresh(day=current)[0]
        current += timedelta(days=1)
    lot_recent_refresh(end=end + timedelta(days=1))
    return written
