"""The per-lot evaluation on held-out days (forecasts_evaluate, manage.py forecast_evaluate, the weekly
task) and the five-minute refresh that publishes the kept lots' forecasts."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.analytics.forecast import forecasts_evaluate, forecasts_refresh
from apps.analytics.models import ForecastEvaluation, LotForecast
from tests.factories import LotFactory

from .helpers import on_the_grid, series, store

pytestmark = pytest.mark.django_db

# Tuesday 2026-03-17, 00:30 in Wuxi: the held-out day of --days 1 is Monday the 16th.
NOW = timezone.make_aware(datetime(2026, 3, 17, 0, 30))
START = timezone.make_aware(datetime(2026, 3, 1))  # 16 days of history before NOW


@pytest.fixture
def judged_city(city):
    daily = LotFactory(code="LX-DAILY", region=city["320213"], total_berths=100)
    wandering = LotFactory(code="LX-WANDER", region=city["320213"], total_berths=100)
    empty = LotFactory(code="LX-EMPTY", region=city["320213"], total_berths=100)
    store(daily, series("daily", start=START, end=NOW))
    store(wandering, series("wandering", start=START, end=NOW))
    return {"daily": daily, "wandering": wandering, "empty": empty}


def test_the_model_is_kept_only_for_the_lot_it_beats_both_baselines_for(judged_city):
    # The wandering lot had a forecast from an earlier evaluation: it goes when the lot is not kept.
    LotForecast.objects.create(lot=judged_city["wandering"], made_at=NOW, in_15_min=1, in_30_min=1, in_60_min=1)

    summary = forecasts_evaluate(days=1, now=NOW)

    rows = {row.lot_id: row for row in ForecastEvaluation.objects.all()}
    daily, wandering, empty = (rows[judged_city[name].pk] for name in ("daily", "wandering", "empty"))
    assert daily.kept and not wandering.kept and not empty.kept
    assert daily.held_out_from.isoformat() == "2026-03-16" and daily.held_out_days == 1
    for horizon in (15, 30, 60):
        model, now, week = (getattr(daily, f"mae_{which}_{horizon}") for which in ("model", "now", "week"))
        assert model < now and model < week
        # every sample of the day, but those whose target is past NOW's last sample (00:25)
        assert getattr(daily, f"points_{horizon}") == {15: 288, 30: 288, 60: 282}[horizon]
        assert getattr(empty, f"points_{horizon}") == 0
        assert getattr(empty, f"mae_model_{horizon}") is None
    assert wandering.mae_model_60 >= wandering.mae_now_60
    assert 0 <= daily.decay <= 1
    assert not LotForecast.objects.exists()
    assert (summary.lots, summary.evaluated, summary.kept) == (3, 2, 1)
    assert summary.mae[60]["model"] == pytest.approx((daily.mae_model_60 + wandering.mae_model_60) / 2)


def test_evaluating_again_rewrites_each_lot_s_row(judged_city):
    forecasts_evaluate(days=1, now=NOW)
    first = dict(ForecastEvaluation.objects.values_list("lot_id", "mae_model_30"))
    forecasts_evaluate(days=1, now=NOW + timedelta(days=1))  # the held-out day is now the 17th: no samples
    assert ForecastEvaluation.objects.count() == 3
    assert set(ForecastEvaluation.objects.values_list("kept", flat=True)) == {False}
    assert first[judged_city["daily"].pk] is not None


def test_the_command_evaluates_and_says_what_it_measured(judged_city):
    out = StringIO()
    call_command("forecast_evaluate", "--days", "1", stdout=out)  # real now: no held-out samples
    assert "3 lots, 0 with enough points, 0 kept" in out.getvalue()
    for days in ("0", "29"):
        with pytest.raises(CommandError, match="--days"):
            call_command("forecast_evaluate", "--days", days)


def test_forecasts_are_judged_weekly_and_refreshed_every_five_minutes():
    schedule = settings.CELERY_BEAT_SCHEDULE
    names = [entry["task"] for entry in schedule.values()]
    evaluate, refresh = "apps.analytics.tasks.evaluate_forecasts", "apps.analytics.tasks.refresh_forecasts"
    assert names.index(evaluate) < names.index(refresh)
    by_task = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert by_task["apps.analytics.tasks.evaluate_forecasts"] == 7 * 86400
    assert by_task["apps.analytics.tasks.refresh_forecasts"] == 300
    assert import_string("apps.analytics.tasks.evaluate_forecasts")() == 0  # nothing to judge yet
    assert import_string("apps.analytics.tasks.refresh_forecasts")() == 0


def test_the_task_leaves_the_held_out_days_it_has_judged_every_lot_on(judged_city, settings):
    # The embedded scheduler runs every entry when it starts, after seed_demo has just evaluated.
    settings.FORECAST_EVALUATION_DAYS = 1
    today = timezone.localdate()
    evaluate = import_string("apps.analytics.tasks.evaluate_forecasts")
    forecasts_evaluate(days=1)
    judged_at = set(ForecastEvaluation.objects.values_list("evaluated_at", flat=True))
    ForecastEvaluation.objects.filter(lot=judged_city["daily"]).update(kept=True)  # marks what a rerun would undo
    assert evaluate() == 1
    assert set(ForecastEvaluation.objects.values_list("evaluated_at", flat=True)) == judged_at
    # A lot not judged yet, or other held-out days: the task evaluates again.
    LotFactory(code="LX-NEW", region=judged_city["daily"].region, total_berths=100)
    assert evaluate() == 0
    assert ForecastEvaluation.objects.count() == 4
    ForecastEvaluation.objects.update(held_out_from=today - timedelta(days=9), kept=True)
    assert evaluate() == 0
    assert set(ForecastEvaluation.objects.values_list("held_out_from", flat=True)) == {today - timedelta(days=1)}


# --- the refresh -------------------------------------------------------------------------------

def _kept(lot, *, kept=True, decay=0.8, trend=0.0):
    return ForecastEvaluation.objects.create(lot=lot, evaluated_at=timezone.now(), held_out_from=timezone.localdate(),
                                             held_out_days=7, decay=decay, trend=trend, kept=kept)


@pytest.fixture
def live_city(city):
    """Three lots with a week of the daily shape up to now; only the first two are kept, and the
    second is offline."""
    now = on_the_grid(timezone.now())
    lots = [LotFactory(code=code, region=city["320213"], total_berths=100) for code in ("LX-K1", "LX-K2", "LX-NOT")]
    for n, lot in enumerate(lots):
        store(lot, series("daily", start=now - timedelta(days=8), end=now + timedelta(minutes=1), seed=n))
    _kept(lots[0])
    _kept(lots[1])
    _kept(lots[2], kept=False)
    type(lots[1]).objects.filter(pk=lots[1].pk).update(offline_since=now)
    return {"now": now, "lots": lots}


def test_the_refresh_writes_the_kept_online_lots_forecasts_only(live_city):
    kept, _offline, not_kept = live_city["lots"]
    LotForecast.objects.create(lot=not_kept, made_at=live_city["now"], in_15_min=1, in_30_min=1, in_60_min=1)

    assert forecasts_refresh() == 1

    (forecast,) = LotForecast.objects.all()
    assert forecast.lot_id == kept.pk
    assert forecast.made_at == live_city["now"]  # from the newest sample
    values = (forecast.in_15_min, forecast.in_30_min, forecast.in_60_min)
    assert all(0 <= value <= 100 for value in values)
    assert forecasts_refresh() == 1 and LotForecast.objects.count() == 1  # rewritten in place


def test_the_refresh_makes_nothing_from_an_old_sample(live_city):
    kept = live_city["lots"][0]
    from apps.analytics.models import OccupancySample

    OccupancySample.objects.filter(lot=kept, at__gt=live_city["now"] - timedelta(minutes=11)).delete()
    assert forecasts_refresh() == 0
    assert not LotForecast.objects.exists()


def test_no_forecast_is_made_for_a_lot_outside_its_opening_hours(live_city):
    """A forecast after closing time would send a driver to a shut gate; a lot whose hours text
    cannot be read keeps its forecast (staff typed something the platform cannot judge)."""
    kept = live_city["lots"][0]
    local = timezone.localtime(live_city["now"])
    shut = f"{(local + timedelta(hours=1)).hour:02d}:00-{(local + timedelta(hours=2)).hour:02d}:00"
    type(kept).objects.filter(pk=kept.pk).update(opening_hours=shut)
    assert forecasts_refresh(now=live_city["now"]) == 0
    assert not LotForecast.objects.exists()

    opened = f"{(local - timedelta(hours=1)).hour:02d}:00-{(local + timedelta(hours=2)).hour:02d}:00"
    type(kept).objects.filter(pk=kept.pk).update(opening_hours=opened)
    assert forecasts_refresh(now=live_city["now"]) == 1

    type(kept).objects.filter(pk=kept.pk).update(opening_hours="全天开放")
    assert forecasts_refresh(now=live_city["now"]) == 1
