"""The demo's month of history: samples, stays and money, rolled up by the platform's own rollups."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.analytics import rollups
from apps.analytics.models import ForecastEvaluation, LotDay, LotForecast, LotHour, OccupancySample
from apps.demo.history import FORECAST_DAYS, FORECAST_EVERY, demo_history_seed
from apps.demo.seed import demo_city_seed
from apps.lots.models import LotOutage, ParkingLot
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
from tests.analytics.test_rollups import expected_day

pytestmark = pytest.mark.django_db

FIELDS = ("entries", "exits", "sessions_closed", "occupied_avg", "peak_ratio", "hours_over_90", "online_minutes",
          "billed_fen", "paid_fen", "waived_fen", "arrears_new_fen", "arrears_recovered_fen")


@pytest.fixture
def month():
    demo_city_seed(lots=8, seed=5)
    ParkingLot.objects.update(allow_pay_later=True)  # a small city may draw none that allows it
    now = rollups.sample_instant(timezone.now())
    return demo_history_seed(days=30, seed=5, now=now), now


def test_every_lot_has_a_month_of_hours_and_days_that_equal_the_raw_rows(month):
    history, now = month
    lots = list(ParkingLot.objects.order_by("code"))
    hours = dict(LotHour.objects.values_list("lot_id").annotate(n=Count("id")))
    for lot in lots:
        assert hours.get(lot.pk, 0) >= 29 * 24, lot.code  # about 30 days of hours, every lot
    assert history.hour_rows == LotHour.objects.count() and history.samples == OccupancySample.objects.count()
    today = rollups.local_day(now)
    days = sorted(set(LotDay.objects.values_list("day", flat=True)))
    assert days == [today - timedelta(days=n) for n in range(30, 0, -1)]
    for lot in lots[:4]:
        for day in days[::3]:
            got = LotDay.objects.filter(lot=lot, day=day).values(*FIELDS).get()
            assert got == {k: pytest.approx(v) for k, v in expected_day(lot, day, now).items()}, (lot.code, day)
    # Over the whole city, the days add up to the raw rows.
    first, _ = rollups.day_bounds(days[0])
    _, last = rollups.day_bounds(days[-1])
    stays = ParkingSession.objects.filter(exit_at__gte=first, exit_at__lt=last)
    assert sum(LotDay.objects.values_list("exits", flat=True)) == stays.count()
    assert sum(LotDay.objects.values_list("billed_fen", flat=True)) == sum(stays.values_list("amount_fen", flat=True))


def test_the_history_looks_like_a_city(month):
    history, now = month
    assert history.stays > 100 and history.arrears > 0 and history.outages >= 1
    assert set(history.incidents) == {"outage", "storm", "event"}
    stays = ParkingSession.objects.all()
    assert not stays.exclude(state="closed").exists() and not stays.filter(exit_at__gt=now).exists()
    reasons = set(stays.values_list("release_reason", flat=True))
    assert {"paid", "pay_later"} <= reasons
    # Each balance is its ledger: paid stays by their payment, arrears by their own rows.
    for stay in stays.filter(release_reason="paid")[:50]:
        assert sum(stay.money_entries.filter(kind="payment").values_list("amount_fen", flat=True)) == stay.paid_fen
    for debt in Arrears.objects.all():
        rows = dict(debt.money_entries.values_list("kind", "amount_fen"))
        assert rows["arrears"] == debt.amount_fen and rows.get("arrears_payment", 0) == debt.paid_fen
        assert (debt.paid_at is not None) == (debt.paid_fen == debt.amount_fen)
    assert SessionMoneyEntry.objects.filter(created_at__gt=now).count() == 0
    # Occupancy follows the kind of lot: a busy weekday noon beats 4 a.m. at an office or a mall.
    busy = LotHour.objects.filter(hour_of_day=11, weekday__lt=5, samples__gt=0)
    quiet = LotHour.objects.filter(hour_of_day=4, weekday__lt=5, samples__gt=0)
    ratio = lambda rows: sum(h.occupied_avg / h.total_berths for h in rows) / len(rows)  # noqa: E731
    assert ratio(busy.exclude(lot__category="residential")) > ratio(quiet.exclude(lot__category="residential"))
    # The outage day: offline samples, and less online time that day.
    outage = LotOutage.objects.first()
    assert OccupancySample.objects.filter(lot=outage.lot, online=False).exists()
    day = rollups.local_day(outage.started_at)
    assert LotDay.objects.get(lot=outage.lot, day=day).online_minutes < 24 * 60
    # The last day is sampled every five minutes.
    recent = OccupancySample.objects.filter(lot=outage.lot, at__gt=now - timedelta(hours=2)).count()
    assert recent == 24


def test_seed_demo_writes_no_history_unless_asked():
    call_command("seed_demo", "--lots", "6", "--seed", "2", stdout=io.StringIO())
    assert not OccupancySample.objects.exists() and not LotHour.objects.exists()


def test_seed_demo_with_history_days():
    out = io.StringIO()
    call_command("seed_demo", "--lots", "6", "--seed", "2", "--history-days", "3", stdout=out)
    assert LotDay.objects.values("day").distinct().count() == 3
    assert LotHour.objects.values("lot").distinct().count() == 6
    said = out.getvalue().splitlines()
    assert any(line.startswith("历史数据 3 天") for line in said)
    assert said[-1].startswith("余位预测：2 个停车场")  # every fourth of the six lots has the detail


def test_the_demo_history_leaves_lots_with_a_kept_forecast_that_the_lot_api_gives(api_client):
    demo_city_seed(lots=8, seed=5)
    now = rollups.sample_instant(timezone.now())
    history = demo_history_seed(days=16, seed=5, now=now)  # 8 lots: every fourth has two weeks of detail
    # Round the clock, whatever their kind: a lot outside its opening hours gets no forecast, and the
    # hour this test runs at must not decide what it finds.
    ParkingLot.objects.update(opening_hours="00:00-24:00")
    # What the embedded scheduler of run_city does first: the weekly evaluation, then the refresh.
    kept_count = import_string("apps.analytics.tasks.evaluate_forecasts")()
    published = import_string("apps.analytics.tasks.refresh_forecasts")()

    lots = list(ParkingLot.objects.order_by("code"))
    detailed, plain = lots[::FORECAST_EVERY], [lot for n, lot in enumerate(lots) if n % FORECAST_EVERY]
    assert history.forecast_lots == len(detailed) == 2
    recent = {lot.pk: OccupancySample.objects.filter(lot=lot, at__gte=now - timedelta(days=FORECAST_DAYS - 1),
                                                     at__lt=now - timedelta(days=2)).count() for lot in lots}
    assert all(recent[lot.pk] == (FORECAST_DAYS - 3) * 288 for lot in detailed)
    assert all(recent[lot.pk] == (FORECAST_DAYS - 3) * 24 for lot in plain)
    # The platform's own evaluation judged every lot: only the detailed ones had the points, and
    # each of them kept is one the model beat both baselines for at every horizon.
    evaluations = {row.lot_id: row for row in ForecastEvaluation.objects.all()}
    assert set(evaluations) == {lot.pk for lot in lots}
    kept = [lot for lot in lots if evaluations[lot.pk].kept]
    assert kept and set(kept) <= set(detailed) and kept_count == len(kept)
    for lot in kept:
        row = evaluations[lot.pk]
        for h in (15, 30, 60):
            assert getattr(row, f"points_{h}") >= 48 * 7
            assert getattr(row, f"mae_model_{h}") < min(getattr(row, f"mae_now_{h}"), getattr(row, f"mae_week_{h}"))
    assert published == LotForecast.objects.count() == len(kept)

    shown = api_client.get(f"/api/v1/lots/{kept[0].code}/").json()["forecast"]
    row = LotForecast.objects.get(lot=kept[0])
    assert shown == {"in_15_min": row.in_15_min, "in_30_min": row.in_30_min,
                     "in_60_min": row.in_60_min}
    assert all(0 <= value <= kept[0].total_berths for value in shown.values())
    assert api_client.get(f"/api/v1/lots/{plain[0].code}/").json()["forecast"] is None
