"""Each rule on crafted streams: it raises once for a lot at fault (and not for a healthy one), not
again while the episode lasts, records when the cause ends, raises anew for a new episode; edited
thresholds take effect at the next run; a run costs the same statements for 2 lots or 6."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.analytics.models import LotHour, OccupancySample, SupervisionCase
from apps.lots.models import LotOutage, ParkingLot
from apps.sessions.models import IngestEvent, ParkingSession
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory

from .conftest import T, assert_lifecycle, cases, event, rule, run

pytestmark = pytest.mark.django_db

M = timedelta(minutes=1)
H = timedelta(hours=1)


def _online(lot, at):
    ParkingLot.objects.filter(pk=lot.pk).update(last_seen_at=at, offline_since=None)


def test_a_long_outage_raises_once_and_ends_when_the_outage_ends(liangxi_lot, binhu_lot):
    lot = liangxi_lot
    outage = LotOutage.objects.create(lot=lot, started_at=T - 2 * H)
    LotOutage.objects.create(lot=binhu_lot, started_at=T - 30 * M, ended_at=T + M)  # under an hour: no case

    def cure():
        outage.ended_at = T + 10 * M
        outage.save()

    def refault():
        LotOutage.objects.create(lot=lot, started_at=T + 20 * M)

    old, new = assert_lifecycle(lot, "outage", raise_at=T, still_at=T + 5 * M, cure=cure, cured_at=T + 15 * M,
                                refault=refault, again_at=T + 90 * M, ended_at=T + 10 * M)
    assert old.evidence["numbers"]["offline_minutes"] == 120
    assert old.evidence["episode"] == outage.pk and new.evidence["episode"] != outage.pk
    assert cases(binhu_lot, "outage") == []


def test_a_new_outage_between_two_runs_is_a_new_case(liangxi_lot):
    first = LotOutage.objects.create(lot=liangxi_lot, started_at=T - 2 * H)
    run("outage", T)
    LotOutage.objects.filter(pk=first.pk).update(ended_at=T + M)
    second = LotOutage.objects.create(lot=liangxi_lot, started_at=T + 2 * M)
    assert run("outage", T + 70 * M) == {"raised": 1, "continuing": 0, "ended": 1}
    old, new = cases(liangxi_lot, "outage")
    assert old.evidence["episode"] == first.pk and old.ended_at == T + M
    assert new.evidence["episode"] == second.pk and new.ended_at is None


def test_repeated_outages_raise_and_age_out_of_the_window(liangxi_lot, binhu_lot):
    lot = liangxi_lot
    for k in range(4):
        LotOutage.objects.create(lot=lot, started_at=T - (5 - k) * H, ended_at=T - (5 - k) * H + 15 * M)
    for k in range(3):
        LotOutage.objects.create(lot=binhu_lot, started_at=T - (5 - k) * H, ended_at=T - (5 - k) * H + 15 * M)

    def refault():
        for k in range(4):
            LotOutage.objects.create(lot=lot, started_at=T + 20 * H + k * H, ended_at=T + 20 * H + k * H + 5 * M)

    old, _new = assert_lifecycle(lot, "outage_repeated", raise_at=T, still_at=T + 5 * M, cure=lambda: None,
                                 cured_at=T + 23 * H, refault=refault, again_at=T + 24 * H)
    assert old.evidence["numbers"]["outages"] == 4
    assert cases(binhu_lot, "outage_repeated") == []


def _busy_history(lot, hours, per_hour, days=4):
    for day in range(1, days + 1):
        for hour in hours:
            start = (T - timedelta(days=day)).replace(hour=hour)
            LotHour.objects.create(lot=lot, hour=start, weekday=start.weekday(), hour_of_day=hour, total_berths=100,
                                   occupied_avg=50, occupied_max=60, samples=12, entries=per_hour // 2,
                                   exits=per_hour - per_hour // 2)


def test_a_device_that_heartbeats_without_events_in_a_busy_hour_is_silent(liangxi_lot, binhu_lot):
    lot = liangxi_lot
    _busy_history(lot, (10, 11), per_hour=10)
    _busy_history(binhu_lot, (10, 11), per_hour=2)  # a quiet lot: silence is normal there
    for each in (lot, binhu_lot):
        event(each, "entry", T - 2 * H, plate="苏B12345")
        event(each, "heartbeat", T - 2 * M)
        _online(each, T - M)

    def still():
        _online(lot, T + 4 * M)

    def cure():
        event(lot, "entry", T + 10 * M, plate="苏B54321")
        _online(lot, T + 11 * M)

    def refault():
        event(lot, "heartbeat", T + 78 * M)
        _online(lot, T + 79 * M)

    old, _new = assert_lifecycle(lot, "silent", raise_at=T, still_at=T + 5 * M, cure=lambda: (still(), cure()),
                                 cured_at=T + 12 * M, refault=refault, again_at=T + 80 * M)
    numbers = old.evidence["numbers"]
    assert numbers["normal_moves_per_hour"] == 10 and numbers["history_hours"] == 4 and numbers["hour_of_day"] == 10
    assert numbers["events_in_window"] == 1 and numbers["moves_in_window"] == 0
    assert cases(binhu_lot, "silent") == []


def test_silence_outside_opening_hours_or_while_offline_is_not_a_case(liangxi_lot, binhu_lot):
    _busy_history(liangxi_lot, (10,), per_hour=10)
    _busy_history(binhu_lot, (10,), per_hour=10)
    ParkingLot.objects.filter(pk=liangxi_lot.pk).update(opening_hours="07:00-09:00,18:00-22:00")
    _online(liangxi_lot, T - M)
    _online(binhu_lot, T - M)
    LotOutage.objects.create(lot=binhu_lot, started_at=T - 40 * M, ended_at=T - 20 * M)  # down inside the window
    assert run("silent", T)["raised"] == 0


def test_edited_thresholds_take_effect_at_the_next_run(liangxi_lot):
    _busy_history(liangxi_lot, (10,), per_hour=10)
    _online(liangxi_lot, T - M)
    silent = rule("silent")
    silent.threshold = 12  # normally 10 an hour: not busy enough now
    silent.save()
    assert run("silent", T)["raised"] == 0
    silent.threshold, silent.minimum = 8, 5  # busy enough, but 4 hours of history are too few
    silent.save()
    assert run("silent", T)["raised"] == 0
    silent.minimum = 4
    silent.save()
    assert run("silent", T)["raised"] == 1
    assert cases(liangxi_lot, "silent")[0].evidence["thresholds"] == {
        "window_minutes": 60, "threshold": 8, "minimum": 4, "history_days": 28}
    silent.enabled = False
    silent.save()
    assert run("silent", T + 5 * M) == {"raised": 0, "continuing": 0, "ended": 0}


def test_count_drift_compares_the_lot_s_snapshots_with_its_entries_and_exits(liangxi_lot, binhu_lot):
    lot = liangxi_lot
    for each in (lot, binhu_lot):
        event(each, "lot_status", T - 2 * H, free_berths=50, total_berths=100)
        for k in range(5):
            event(each, "entry", T - H + k * M, plate=f"苏B1000{k}")
    event(lot, "lot_status", T - 10 * M, free_berths=20, total_berths=100)  # 30 more inside, 5 counted
    event(binhu_lot, "lot_status", T - 10 * M, free_berths=40, total_berths=100)  # 10 vs 5: within tolerance
    ParkingLot.objects.filter(pk__in=[lot.pk, binhu_lot.pk]).update(snapshot_at=T - 10 * M)

    def cure():
        event(lot, "lot_status", T + 20 * M, free_berths=45, total_berths=100)
        ParkingLot.objects.filter(pk=lot.pk).update(snapshot_at=T + 20 * M)

    def refault():
        event(lot, "lot_status", T + 30 * M, free_berths=10, total_berths=100)
        ParkingLot.objects.filter(pk=lot.pk).update(snapshot_at=T + 30 * M)

    old, new = assert_lifecycle(lot, "count_drift", raise_at=T, still_at=T + 5 * M, cure=cure, cured_at=T + 25 * M,
                                refault=refault, again_at=T + 35 * M)
    assert {"first_free": 50, "last_free": 20, "entries": 5, "exits": 0, "reported_change": 30,
            "counted_change": 5, "drift": 25}.items() <= old.evidence["numbers"].items()
    assert new.evidence["numbers"]["drift"] == 35
    assert cases(binhu_lot, "count_drift") == []


def _stays(lot, n, **kwargs):
    return [SessionFactory(lot=lot, **kwargs) for _ in range(n)]


def test_more_vehicles_inside_than_berths_is_impossible_data(city):
    lot = LotFactory(total_berths=10, free_berths=0)
    healthy = LotFactory(total_berths=10, free_berths=0)
    stays = _stays(lot, 13, entry_at=T - H)
    _stays(healthy, 12, entry_at=T - H)  # 2 over: within the tolerance

    def cure():
        ParkingSession.objects.filter(pk__in=[s.pk for s in stays[:3]]).update(state="closed", exit_at=T)

    old, _new = assert_lifecycle(lot, "over_capacity", raise_at=T, still_at=T + 5 * M, cure=cure,
                                 cured_at=T + 10 * M, refault=lambda: _stays(lot, 3, entry_at=T), again_at=T + 15 * M)
    assert old.evidence["numbers"] == {"vehicles_inside": 13, "total_berths": 10, "excess": 3, "tolerance": 2}
    assert cases(healthy, "over_capacity") == []


def test_a_high_share_of_exits_without_entries_is_impossible_data(liangxi_lot, binhu_lot):
    lot = liangxi_lot

    def exits(each, at, orphans, total=20):
        _stays(each, total - orphans, state="closed", entry_at=at - H, exit_at=at)
        _stays(each, orphans, state="review", release_reason="review", entry_at=None, exit_at=at, closed_at=at)

    exits(lot, T - H, orphans=5)
    exits(binhu_lot, T - H, orphans=3)  # 15 %: below the 20 %
    old, _new = assert_lifecycle(lot, "orphan_exits", raise_at=T, still_at=T + 5 * M, cure=lambda: None,
                                 cured_at=T + 24 * H, refault=lambda: exits(lot, T + 25 * H, orphans=10),
                                 again_at=T + 26 * H)
    assert old.evidence["numbers"] == {"exits": 20, "exits_without_entry": 5, "share": 0.25}
    assert cases(binhu_lot, "orphan_exits") == []


def test_entries_never_closed_are_impossible_data(liangxi_lot, binhu_lot):
    lot = liangxi_lot
    old_stays = _stays(lot, 10, entry_at=T - timedelta(days=4))
    _stays(binhu_lot, 9, entry_at=T - timedelta(days=4))  # 9 of 100 berths: below both
    _stays(binhu_lot, 5, entry_at=T - H)  # recent stays do not count

    def cure():
        ParkingSession.objects.filter(pk__in=[s.pk for s in old_stays]).update(state="closed", exit_at=T)

    old, _new = assert_lifecycle(
        lot, "unclosed_entries", raise_at=T, still_at=T + 5 * M, cure=cure, cured_at=T + 10 * M,
        refault=lambda: _stays(lot, 12, entry_at=T - timedelta(days=5)), again_at=T + 15 * M)
    assert old.evidence["numbers"]["open_stays"] == 10
    assert cases(binhu_lot, "unclosed_entries") == []


def _samples(lot, start, n, free, step=H):
    for k in range(n):
        OccupancySample.objects.create(lot=lot, at=start + k * step, free_berths=free, total_berths=100)


def test_a_free_count_that_never_changes_is_hidden_data(liangxi_lot, binhu_lot):
    lot = liangxi_lot
    _samples(lot, T - 11 * H, 12, free=37)
    _samples(binhu_lot, T - 11 * H, 12, free=37)
    OccupancySample.objects.create(lot=binhu_lot, at=T - 30 * M, free_berths=36, total_berths=100)

    old, _new = assert_lifecycle(
        lot, "frozen_free", raise_at=T, still_at=T + 5 * M,
        cure=lambda: OccupancySample.objects.create(lot=lot, at=T + 10 * M, free_berths=30, total_berths=100),
        cured_at=T + 15 * M, refault=lambda: _samples(lot, T + H, 12, free=30), again_at=T + 13 * H)
    assert old.evidence["numbers"]["samples"] == 12 and old.evidence["numbers"]["free_min"] == 37
    assert cases(binhu_lot, "frozen_free") == []


def test_a_closed_lot_is_never_at_fault(liangxi_lot):
    ParkingLot.objects.filter(pk=liangxi_lot.pk).update(status="closed")
    LotOutage.objects.create(lot=liangxi_lot, started_at=T - 5 * H)
    _samples(liangxi_lot, T - 11 * H, 12, free=37)
    assert run("outage", T)["raised"] == 0 and run("frozen_free", T)["raised"] == 0


def test_the_database_refuses_a_second_open_case_for_one_lot_and_rule(liangxi_lot):
    LotOutage.objects.create(lot=liangxi_lot, started_at=T - 2 * H)
    run("outage", T)
    [case] = cases(liangxi_lot, "outage")
    with pytest.raises(IntegrityError), transaction.atomic():
        SupervisionCase.objects.create(lot=liangxi_lot, rule=case.rule, raised_at=T, last_detected_at=T, due_at=T)


@pytest.mark.parametrize("code", ["outage", "outage_repeated", "silent", "count_drift", "over_capacity",
                                  "orphan_exits", "unclosed_entries", "frozen_free"])
def test_a_run_costs_the_same_statements_for_two_lots_or_six(city, code):
    def faulty_lots(n):
        lots = [LotFactory(total_berths=10, free_berths=0) for _ in range(n)]
        for lot in lots:
            LotOutage.objects.create(lot=lot, started_at=T - 2 * H)
            _stays(lot, 13, entry_at=T - timedelta(days=4))
            _samples(lot, T - 11 * H, 12, free=0)
        return lots

    def statements(now):
        with CaptureQueriesContext(connection) as ctx:
            run(code, now)
        return len(ctx.captured_queries)

    faulty_lots(2)
    first_raise, first_again = statements(T), statements(T + 5 * M)
    faulty_lots(4)
    assert statements(T + 10 * M) <= first_raise + 1  # the four new lots raised in the same statements
    assert statements(T + 15 * M) == first_again


# -- the window scans at city scale (detectors read a range of received_at, and window functions) --

def test_count_drift_counts_the_moves_after_the_first_snapshot_up_to_and_at_the_last(liangxi_lot):
    """A move at the first snapshot's very instant is before it (its count already holds it), one at
    the last snapshot's instant is counted; of two snapshots at one instant the later stored is last."""
    lot = liangxi_lot
    event(lot, "lot_status", T - 2 * H, free_berths=50, total_berths=100)
    event(lot, "entry", T - 2 * H, plate="苏B20000")  # at the first snapshot: not between
    for k in range(1, 4):
        event(lot, "entry", T - H + k * M, plate=f"苏B2000{k}")
    event(lot, "exit", T - 30 * M, plate="苏B20001")
    event(lot, "lot_status", T - 10 * M, free_berths=99, total_berths=100)
    event(lot, "entry", T - 10 * M, plate="苏B20009")  # at the last snapshot: between
    event(lot, "lot_status", T - 10 * M, free_berths=10, total_berths=100)  # same instant, stored later: last
    event(lot, "entry", T - 5 * M, plate="苏B20010")  # after the last snapshot: not between
    ParkingLot.objects.filter(pk=lot.pk).update(snapshot_at=T - 10 * M)

    assert run("count_drift", T)["raised"] == 1
    [case] = cases(lot, "count_drift")
    assert {"first_free": 50, "last_free": 10, "snapshots": 3, "entries": 4, "exits": 1, "reported_change": 40,
            "counted_change": 3, "drift": 37}.items() <= case.evidence["numbers"].items()


def test_count_drift_reads_late_events_by_when_they_occurred(liangxi_lot):
    """An event delivered late (a backlog sent after a reconnect) counts at its own time: the window
    bounds what was received only from below, by the furthest a device's clock may run ahead."""
    lot = liangxi_lot
    event(lot, "lot_status", T - 2 * H, free_berths=50, total_berths=100)
    event(lot, "lot_status", T - 10 * M, free_berths=20, total_berths=100)
    for k in range(30):
        late = event(lot, "entry", T - H + k * M, plate=f"苏B3{k:04d}")
        IngestEvent.objects.filter(pk=late.pk).update(received_at=T - 5 * M)
    ParkingLot.objects.filter(pk=lot.pk).update(snapshot_at=T - 10 * M)
    assert run("count_drift", T)["raised"] == 0  # 30 in by the snapshots, 30 entries counted


def test_a_move_from_a_clock_running_ahead_still_breaks_the_silence(liangxi_lot, settings):
    """Ingest accepts an event dated up to INGEST_MAX_FUTURE_S ahead of its own clock, so a move may
    have been received before the instant it claims: the silent rule still sees it."""
    lot = liangxi_lot
    _busy_history(lot, (10,), per_hour=10)
    move = event(lot, "entry", T - 30 * M, plate="苏B40001")
    IngestEvent.objects.filter(pk=move.pk).update(received_at=T - 30 * M - timedelta(
        seconds=settings.INGEST_MAX_FUTURE_S - 10))
    _online(lot, T - M)
    assert run("silent", T)["raised"] == 0


def test_silent_reads_only_the_same_hour_of_past_days(liangxi_lot):
    """The lot's normal traffic is its history at this clock hour: busy other hours, or busy days
    beyond history_days, do not make a quiet hour suspicious."""
    lot = liangxi_lot
    _busy_history(lot, (9, 11), per_hour=30)
    _busy_history(lot, (10,), per_hour=2)
    for day in range(29, 33):  # beyond the 28 days of history
        start = (T - timedelta(days=day)).replace(hour=10)
        LotHour.objects.create(lot=lot, hour=start, weekday=start.weekday(), hour_of_day=10, total_berths=100,
                               occupied_avg=50, occupied_max=60, samples=12, entries=50, exits=50)
    _online(lot, T - M)
    assert run("silent", T)["raised"] == 0


@pytest.mark.postgres  # BRIN indexes are PostgreSQL's; the migration creates none elsewhere
@pytest.mark.django_db(transaction=False)
def test_the_event_log_has_a_brin_index_on_received_at_on_postgresql():
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'ingest_received_brin'")
        [(definition,)] = cur.fetchall()
    assert "USING brin (received_at)" in definition
