"""The summary rollups (issue 11 item 3): samples, LotHour and LotDay equal what the raw rows say.

The expected values are computed here in Python from the raw rows (sessions, samples, the money
ledger, outages), not with the grouped queries the rollups use, so the two can disagree.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command

from apps.analytics import rollups, tasks
from apps.analytics.models import LotDay, LotHour, OccupancySample
from apps.lots.fees import SHANGHAI
from apps.lots.models import LotOutage, ParkingLot
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 17)  # a Tuesday
NEXT = date(2026, 3, 18)
NOW = datetime(2026, 3, 19, 10, 2, tzinfo=SHANGHAI)
Kind = SessionMoneyEntry.Kind


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def sample(lot, moment, free, *, total=None, online=True):
    return OccupancySample.objects.create(lot=lot, at=moment, free_berths=free,
                                          total_berths=lot.total_berths if total is None else total, online=online)


def closed_stay(lot, entry, exit_, *, amount=0, reason="free"):
    return SessionFactory(lot=lot, entry_at=entry, exit_at=exit_, closed_at=exit_, state="closed",
                          release_reason=reason, amount_fen=amount)


def book(stay, kind, fen, moment, *, arrears=None):
    return SessionMoneyEntry.objects.create(session=stay, arrears=arrears, kind=kind, amount_fen=fen, reason="测试",
                                            created_at=moment)


@pytest.fixture
def world():
    """Two lots and a day with everything the rollups read."""
    a = LotFactory(total_berths=100, free_berths=100)
    b = LotFactory(total_berths=10, free_berths=10)
    # Samples of A at 09:00: two online, one offline (its stale count must not count).
    sample(a, at(DAY, 9, 0), 60)
    sample(a, at(DAY, 9, 5), 40)
    sample(a, at(DAY, 9, 10), 0, online=False)
    # A is full all 14:00 hour (over 90 %), and B is at 95 % at 14:00.
    for minute in range(0, 60, 5):
        sample(a, at(DAY, 14, minute), 5)
    sample(b, at(DAY, 14, 0), 1)
    sample(b, at(DAY, 14, 5), 0)
    # The last sample of the day and the first of the next: the local midnight edge (16:00 UTC).
    sample(a, at(DAY, 23, 55), 90)
    sample(a, at(NEXT, 0, 0), 80)

    paid = closed_stay(a, at(DAY, 9, 2), at(DAY, 11, 40), amount=800, reason="paid")
    book(paid, Kind.PAYMENT, 800, at(DAY, 11, 35))
    book(paid, Kind.REFUND, 100, at(DAY, 15, 0))
    # Across midnight, left unpaid (pay later): its due becomes arrears, partly paid the next day.
    unpaid = closed_stay(a, at(DAY, 23, 30), at(NEXT, 0, 40), amount=600, reason="pay_later")
    ParkingSession.objects.filter(pk=unpaid.pk).update(due_fen=600)
    debt = Arrears.objects.create(session=unpaid, plate=unpaid.plate, lot=a, amount_fen=600, created_at=at(NEXT, 0, 40))
    book(unpaid, Kind.ARREARS, 600, at(NEXT, 0, 40), arrears=debt)
    book(unpaid, Kind.ARREARS_PAYMENT, 200, at(NEXT, 9, 0), arrears=debt)
    waived = closed_stay(b, at(DAY, 14, 1), at(DAY, 14, 50), amount=300, reason="free")
    book(waived, Kind.WAIVER, 300, at(DAY, 14, 50))
    # One second before and exactly at local midnight: one day each.
    closed_stay(b, at(DAY, 23, 59, 59), at(NEXT, 0, 0), reason="free")
    # Still parked, and waiting at the barrier: entries and exits, not closed.
    SessionFactory(lot=b, entry_at=at(DAY, 8, 0), state="open")
    SessionFactory(lot=b, entry_at=at(DAY, 7, 0), exit_at=at(DAY, 18, 0), state="awaiting_payment",
                   release_reason="unpaid", amount_fen=1200, due_fen=1200)
    # A down 10:00–11:30; B down from 23:00 and still down the next morning.
    LotOutage.objects.create(lot=a, started_at=at(DAY, 10, 0), ended_at=at(DAY, 11, 30))
    LotOutage.objects.create(lot=b, started_at=at(DAY, 23, 0))
    return a, b


# --- what the raw rows say, computed without the rollups' queries -----------------------------

def local(moment):
    return moment.astimezone(SHANGHAI) if moment else None


def expected_hours(lots) -> dict[tuple[int, datetime], dict]:
    found: dict[tuple[int, datetime], dict] = defaultdict(lambda: {"online": [], "total": 0, "entries": 0,
                                                                    "exits": 0})
    for s in OccupancySample.objects.filter(lot__in=lots):
        key = (s.lot_id, local(s.at).replace(minute=0))
        found[key]["total"] = max(found[key]["total"], s.total_berths)
        if s.online:
            found[key]["online"].append(s.total_berths - s.free_berths)
    for stay in ParkingSession.objects.filter(lot__in=lots):
        for field, moment in (("entries", stay.entry_at), ("exits", stay.exit_at)):
            if moment:
                key = (stay.lot_id, local(moment).replace(minute=0, second=0))
                found[key][field] += 1
                found[key]["total"] = found[key]["total"] or stay.lot.total_berths
    return {key: {"total_berths": v["total"], "samples": len(v["online"]),
                  "occupied_avg": sum(v["online"]) / len(v["online"]) if v["online"] else 0.0,
                  "occupied_max": max(v["online"], default=0), "entries": v["entries"], "exits": v["exits"]}
            for key, v in found.items()}


def expected_day(lot: ParkingLot, day: date, now: datetime) -> dict:
    start, end = rollups.day_bounds(day)
    on_day = lambda moment: moment is not None and local(moment).date() == day  # noqa: E731
    stays = list(ParkingSession.objects.filter(lot=lot))
    online = [s.total_berths - s.free_berths for s in OccupancySample.objects.filter(lot=lot, online=True)
              if on_day(s.at)]
    hours = [v for (lot_id, hour), v in expected_hours([lot]).items() if lot_id == lot.pk and hour.date() == day]
    ratios = [v["occupied_avg"] / v["total_berths"] for v in hours if v["samples"] and v["total_berths"]]
    ledger = defaultdict(int)
    for entry in SessionMoneyEntry.objects.filter(session__lot=lot):
        if on_day(entry.created_at):
            ledger[entry.kind] += entry.amount_fen
    until = min(end, now)
    offline = sum(((min(o.ended_at or until, until) - max(o.started_at, start)).total_seconds()
                   for o in LotOutage.objects.filter(lot=lot)
                   if o.started_at < until and (o.ended_at is None or o.ended_at > start)), 0.0)
    return {
        "entries": sum(on_day(s.entry_at) for s in stays),
        "exits": sum(on_day(s.exit_at) for s in stays),
        "sessions_closed": sum(on_day(s.closed_at) and s.state == "closed" for s in stays),
        "occupied_avg": sum(online) / len(online) if online else 0.0,
        "peak_ratio": max(ratios, default=0.0),
        "hours_over_90": sum(r >= 0.9 for r in ratios),
        "online_minutes": int(((until - start).total_seconds() - offline) // 60),
        "billed_fen": sum(s.amount_fen for s in stays if on_day(s.exit_at)),
        "paid_fen": max(ledger[Kind.PAYMENT] - ledger[Kind.REFUND], 0),
        "waived_fen": ledger[Kind.WAIVER],
        "arrears_new_fen": ledger[Kind.ARREARS],
        "arrears_recovered_fen": ledger[Kind.ARREARS_PAYMENT],
    }


def hour_rows():
    return {(h.lot_id, local(h.hour)): {"total_berths": h.total_berths, "samples": h.samples,
                                        "occupied_avg": pytest.approx(h.occupied_avg), "occupied_max": h.occupied_max,
                                        "entries": h.entries, "exits": h.exits, "weekday": h.weekday,
                                        "hour_of_day": h.hour_of_day}
            for h in LotHour.objects.all()}


def day_values(lot, day):
    return LotDay.objects.filter(lot=lot, day=day).values(*expected_day(lot, day, NOW)).get()


# --- tests ------------------------------------------------------------------------------------

def test_hours_equal_the_raw_rows_across_midnight_and_offline_samples(world):
    a, b = world
    written = rollups.roll_up_hours(at(DAY, 0), at(NEXT, 12))
    expected = expected_hours([a, b])
    got = hour_rows()
    assert set(got) == set(expected) and written == len(expected)
    for key, row in expected.items():
        for field, value in row.items():
            assert got[key][field] == pytest.approx(value), (key, field)
        assert (got[key]["weekday"], got[key]["hour_of_day"]) == (key[1].weekday(), key[1].hour)
    # The crafted numbers, as a reader would check them by hand.
    assert got[(a.pk, at(DAY, 9))]["occupied_avg"] == 50 and got[(a.pk, at(DAY, 9))]["samples"] == 2
    assert got[(a.pk, at(DAY, 9))]["occupied_max"] == 60 and got[(a.pk, at(DAY, 9))]["entries"] == 1
    assert got[(a.pk, at(DAY, 23))]["entries"] == 1 and got[(a.pk, at(NEXT, 0))]["exits"] == 1
    assert got[(b.pk, at(DAY, 23))]["entries"] == 1 and got[(b.pk, at(NEXT, 0))]["exits"] == 1


def test_days_equal_the_raw_rows_money_outages_and_the_midnight_edge(world):
    a, b = world
    rollups.roll_up_range(DAY, NEXT, now=NOW)
    for lot in (a, b):
        for day in (DAY, NEXT):
            got = day_values(lot, day)
            want = expected_day(lot, day, NOW)
            assert got == {k: pytest.approx(v) for k, v in want.items()}, (lot.code, day)
    first = day_values(a, DAY)
    assert first["billed_fen"] == 800 and first["paid_fen"] == 700  # 800 paid, 100 refunded
    assert first["online_minutes"] == 1440 - 90 and first["hours_over_90"] == 1
    assert first["entries"] == 2 and first["exits"] == 1 and first["sessions_closed"] == 1
    second = day_values(a, NEXT)
    assert second["billed_fen"] == 600 and second["arrears_new_fen"] == 600 and second["arrears_recovered_fen"] == 200
    b_day = day_values(b, DAY)
    assert b_day["waived_fen"] == 300 and b_day["online_minutes"] == 23 * 60
    assert b_day["billed_fen"] == 300 + 1200  # the unpaid wait is billed at its exit; not closed
    assert b_day["sessions_closed"] == 1 and b_day["peak_ratio"] == pytest.approx(0.95)
    assert day_values(b, NEXT)["online_minutes"] == 0
    row = LotDay.objects.get(lot=a, day=DAY)
    assert (row.region_id, row.operator_id) == (a.region_id, a.operator_id)


def test_a_rerun_gives_the_same_rows_and_a_late_event_is_counted_once(world):
    a, _b = world
    rollups.roll_up_range(DAY, NEXT, now=NOW)
    hours_before = sorted(LotHour.objects.values_list("lot_id", "hour", "occupied_avg", "samples", "entries", "exits"))
    days_before = sorted(LotDay.objects.values_list("lot_id", "day", "entries", "billed_fen", "paid_fen",
                                                    "online_minutes"))
    rollups.roll_up_range(DAY, NEXT, now=NOW)
    rollups.roll_up_hours(at(DAY, 9), at(DAY, 10))
    assert sorted(LotHour.objects.values_list("lot_id", "hour", "occupied_avg", "samples", "entries",
                                              "exits")) == hours_before
    assert sorted(LotDay.objects.values_list("lot_id", "day", "entries", "billed_fen", "paid_fen",
                                             "online_minutes")) == days_before
    # A stay reported late for 09:00: the next run counts it, once.
    closed_stay(a, at(DAY, 9, 30), at(DAY, 9, 50))
    rollups.roll_up_range(DAY, DAY, now=NOW)
    rollups.roll_up_range(DAY, DAY, now=NOW)
    assert LotHour.objects.get(lot=a, hour=at(DAY, 9)).entries == 2
    assert LotDay.objects.get(lot=a, day=DAY).entries == 3


def test_take_samples_is_one_row_a_lot_per_instant_and_marks_offline_lots():
    a = LotFactory(total_berths=50, free_berths=20)
    b = LotFactory(total_berths=30, free_berths=30, offline_since=at(DAY, 9, 0))
    assert rollups.take_samples(at(DAY, 9, 7, 31)) == 2
    assert rollups.take_samples(at(DAY, 9, 9, 59)) == 0  # the same 5-minute instant: nothing new
    ParkingLot.objects.filter(pk=a.pk).update(free_berths=10)
    assert rollups.take_samples(at(DAY, 9, 10)) == 2
    rows = sorted(OccupancySample.objects.values_list("lot_id", "at", "free_berths", "total_berths", "online"))
    assert rows == sorted([(a.pk, at(DAY, 9, 5), 20, 50, True), (b.pk, at(DAY, 9, 5), 30, 30, False),
                           (a.pk, at(DAY, 9, 10), 10, 50, True), (b.pk, at(DAY, 9, 10), 30, 30, False)])


def test_purge_keeps_the_retention_window(settings):
    settings.ANALYTICS_SAMPLE_RETENTION_DAYS = 35
    lot = LotFactory()
    old = sample(lot, NOW - timedelta(days=35, minutes=5), 10)
    kept = sample(lot, NOW - timedelta(days=34), 10)
    assert rollups.purge_samples(NOW) == 1
    assert list(OccupancySample.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not OccupancySample.objects.filter(pk=old.pk).exists()


def test_local_hours_and_days_are_wuxi_time_whatever_the_utc_date():
    lot = LotFactory(total_berths=10, free_berths=10)
    # 2026-03-17 16:00 UTC is 00:00 on the 18th in Wuxi; 15:59:59 UTC is still the 17th.
    closed_stay(lot, datetime.fromisoformat("2026-03-17T15:59:59+00:00"), datetime.fromisoformat("2026-03-17T16:00Z"))
    sample(lot, datetime.fromisoformat("2026-03-17T16:00:00+00:00"), 4)
    rollups.roll_up_range(DAY, NEXT, now=NOW)
    hour = LotHour.objects.get(lot=lot, samples=1)
    assert local(hour.hour) == at(NEXT, 0) and (hour.weekday, hour.hour_of_day) == (2, 0)
    assert LotHour.objects.get(lot=lot, hour=at(DAY, 23)).entries == 1
    assert LotDay.objects.get(lot=lot, day=NEXT).occupied_avg == 6
    assert list(LotDay.objects.filter(lot=lot).values_list("day", "entries", "exits").order_by("day")) == [
        (DAY, 1, 0), (NEXT, 0, 1)]
    assert rollups.hour_starts(at(DAY, 22, 30), at(NEXT, 1)) == [at(DAY, 22), at(DAY, 23), at(NEXT, 0)]
    assert rollups.day_bounds(DAY) == (at(DAY, 0), at(NEXT, 0))
    assert rollups.sample_instant(datetime.fromisoformat("2026-03-17T15:59:59+00:00")) == at(DAY, 23, 55)


@time_machine.travel(datetime(2026, 3, 19, 10, 2, tzinfo=SHANGHAI), tick=False)
def test_the_periodic_tasks_roll_the_last_hours_and_catch_up_a_gap_bounded(settings):
    settings.ANALYTICS_CATCHUP_HOURS = 48
    settings.ANALYTICS_CATCHUP_DAYS = 7
    lot = LotFactory(total_berths=10, free_berths=10)
    ParkingLot.objects.filter(pk=lot.pk).update(created_at=at(date(2026, 3, 1), 0))
    for day, hour in ((date(2026, 3, 5), 9), (date(2026, 3, 14), 9), (date(2026, 3, 18), 9), (date(2026, 3, 19), 8)):
        sample(lot, at(day, hour), 5)
    assert tasks.take_samples() == 1  # 10:00, still in progress: not rolled
    tasks.roll_up_hours()
    hours = {local(h) for h in LotHour.objects.values_list("hour", flat=True)}
    # Nothing rolled before: the last 48 hours, not the samples far behind.
    assert hours == {at(date(2026, 3, 18), 9), at(date(2026, 3, 19), 8)}
    tasks.roll_up_days()
    assert set(LotDay.objects.values_list("day", flat=True)) == {date(2026, 3, 18)}
    # Days behind the newest rolled one are caught up, at most ANALYTICS_CATCHUP_DAYS back.
    LotDay.objects.all().delete()
    LotDay.objects.create(lot=lot, day=date(2026, 3, 1), region=lot.region, total_berths=10)
    tasks.roll_up_days()
    assert set(LotDay.objects.values_list("day", flat=True)) == (
        {date(2026, 3, 1)} | {date(2026, 3, 18) - timedelta(days=n) for n in range(7)})
    # The caught-up days' hours were rolled too (the 14th), but nothing before the bound (the 5th).
    early = LotHour.objects.filter(hour__lt=at(date(2026, 3, 17), 0)).values_list("hour", flat=True)
    assert [local(h) for h in early] == [at(date(2026, 3, 14), 9)]
    assert tasks.purge_samples() == 0


def test_analytics_rollup_backfills_and_refuses_bad_dates(world):
    out = io.StringIO()
    call_command("analytics_rollup", "--from", "2026-03-17", "--to", "2026-03-18", stdout=out)
    assert LotDay.objects.filter(day__in=[DAY, NEXT]).count() == 4
    assert "2026-03-17" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("analytics_rollup", "--from", "2026-03-18", "--to", "2026-03-17")
    with pytest.raises(CommandError):
        call_command("analytics_rollup", "--from", "17/03/2026", "--to", "2026-03-18")


def test_the_beat_schedule_runs_the_analytics_tasks(settings):
    from django.utils.module_loading import import_string

    entries = {name: entry for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if name.startswith("analytics-")}
    assert {entry["task"] for entry in entries.values()} == {
        "apps.analytics.tasks.take_samples", "apps.analytics.tasks.roll_up_hours", "apps.analytics.tasks.roll_up_days",
        "apps.analytics.tasks.purge_samples", "apps.analytics.tasks.export_open_data",
        "apps.analytics.dashboards.tasks.region_rollup"}
    assert entries["analytics-samples"]["schedule"] == settings.ANALYTICS_SAMPLE_MINUTES * 60
    for entry in entries.values():
        assert import_string(entry["task"]).name == entry["task"]
