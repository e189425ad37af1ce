"""The city simulator's model (apps/demo/simulation.py): plates, days, capacity, outboxes.

Pure tests: a fake clock steps the model; no database, no network.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest

from apps.common import plates
from apps.demo.simulation import (
    MAX_BATCH,
    PROFILES,
    SHANGHAI,
    CityModel,
    Dispatcher,
    LotSpec,
    ParkedCar,
    PlateGenerator,
    Vehicle,
    profile_for,
    target_occupancy,
)

MONDAY = datetime(2026, 3, 16, tzinfo=SHANGHAI)
SATURDAY = datetime(2026, 3, 21, tzinfo=SHANGHAI)

COLOR_FOR_KIND = {
    "ordinary": {"blue", "yellow"},
    "new_energy_small": {"green"},
    "new_energy_large": {"yellow_green"},
    "special": {"yellow", "white", "black"},
    "armed_police": {"white"},
}


def _city(n_office=2, n_res=2, n_mall=2, n_street=2, capacity=60, berths=20) -> list[LotSpec]:
    lots = []
    for category, count in (("office", n_office), ("residential", n_res), ("mall", n_mall)):
        lots += [LotSpec(f"{category.upper()}-{i}", "off_street", category, capacity) for i in range(count)]
    lots += [LotSpec(f"ROAD-{i}", "on_street", "road", berths, tuple(f"B{i}{j:02d}" for j in range(berths)))
             for i in range(n_street)]
    return lots


def _run(model: CityModel, start: datetime, hours: float, step_s: int = 60) -> list[tuple[datetime, dict]]:
    """Step the model over ``hours``; every event with the step time it was produced at."""
    out = [(start, event) for event in model.warm_start(start)]
    now = start
    for _ in range(int(hours * 3600 / step_s)):
        now += timedelta(seconds=step_s)
        out += [(now, event) for event in model.step(now)]
    return out


# --- plates -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vehicles() -> list[Vehicle]:
    gen = PlateGenerator(random.Random(7))
    return [gen() for _ in range(20_000)]


def test_every_plate_is_valid_and_normalised(vehicles):
    for vehicle in vehicles:
        if vehicle.plate is not None:
            assert plates.validate(vehicle.plate) == vehicle.plate


def test_colour_and_class_fit_the_plate(vehicles):
    for vehicle in vehicles:
        if vehicle.plate is None:
            continue
        plate = plates.parse(vehicle.plate)
        assert vehicle.plate_color in COLOR_FOR_KIND[plate.kind], vehicle
        if plate.kind == "new_energy_large" or (vehicle.plate_color == "yellow" and plate.kind == "ordinary"):
            assert vehicle.vehicle_class == "large"
        else:
            assert vehicle.vehicle_class == "small"


def test_jiangsu_bias_with_wuxi_first_and_every_province_seen(vehicles):
    provinces = Counter(plates.parse(v.plate).province for v in vehicles if v.plate)
    plated = sum(provinces.values())
    assert 0.72 < provinces["苏"] / plated < 0.88
    prefixes = Counter(v.plate[:2] for v in vehicles if v.plate)
    assert prefixes.most_common(1)[0][0] == "苏B"
    assert prefixes["苏B"] / plated > 0.6
    assert set(plates.PROVINCES) <= set(provinces)


def test_mix_of_kinds(vehicles):
    kinds = Counter(plates.parse(v.plate).kind if v.plate else "ticket" for v in vehicles)
    n = len(vehicles)
    assert 0.12 < kinds["new_energy_small"] / n < 0.22
    assert 0 < kinds["new_energy_large"] / n < 0.03
    assert 0.003 < kinds["ticket"] / n < 0.02
    assert kinds["special"] > 0 and kinds["armed_police"] > 0
    large = sum(v.vehicle_class == "large" for v in vehicles) / n
    assert 0.02 < large < 0.07
    tickets = [v for v in vehicles if v.plate is None]
    assert all(v.ticket_id and v.plate_color is None for v in tickets)
    assert len({v.ticket_id for v in tickets}) == len(tickets)


# --- profiles ---------------------------------------------------------------------------------

def test_profiles_follow_the_citys_day():
    at = lambda day, hour: day + timedelta(hours=hour)  # noqa: E731
    office, mall, hospital = PROFILES["office"], PROFILES["mall"], PROFILES["hospital"]
    residential, road, scenic = PROFILES["residential"], PROFILES["road"], PROFILES["scenic"]
    assert target_occupancy(office, at(MONDAY, 10)) > 0.8 > 0.1 > target_occupancy(office, at(MONDAY, 3))
    assert target_occupancy(office, at(MONDAY, 8)) < target_occupancy(office, at(MONDAY, 9))
    assert target_occupancy(office, at(MONDAY, 19)) < target_occupancy(office, at(MONDAY, 17))
    assert target_occupancy(mall, at(MONDAY, 19)) > target_occupancy(mall, at(MONDAY, 10))
    assert target_occupancy(hospital, at(MONDAY, 10)) > target_occupancy(hospital, at(MONDAY, 2))
    assert target_occupancy(residential, at(MONDAY, 2)) > target_occupancy(residential, at(MONDAY, 11))
    assert target_occupancy(scenic, at(SATURDAY, 14)) > target_occupancy(scenic, at(MONDAY, 14))
    assert road.mean_stay_h < min(p.mean_stay_h for p in PROFILES.values() if p is not road)
    for profile in PROFILES.values():
        for hour in range(0, 24 * 7, 1):
            assert 0 <= target_occupancy(profile, MONDAY + timedelta(hours=hour)) <= 1


def test_profile_for_reads_kind_then_category():
    assert profile_for("on_street", "office").name == "road"
    assert profile_for("off_street", "hospital").name == "hospital"
    assert profile_for("off_street", "unknown").name == "public"


# --- the model --------------------------------------------------------------------------------

def _replay(lots: list[LotSpec], timeline: list[tuple[datetime, dict]]) -> dict:
    """Check the event stream like a strict platform would; returns stays (seconds) per lot code."""
    capacity = {lot.code: lot.capacity for lot in lots}
    berths = {lot.code: set(lot.berth_codes) for lot in lots}
    inside: dict[str, dict[str, tuple[datetime, str | None]]] = {lot.code: {} for lot in lots}
    held: dict[str, set[str]] = {lot.code: set() for lot in lots}
    where: dict[str, str] = {}
    stays: dict[str, list[float]] = {lot.code: [] for lot in lots}
    events = [event for _, event in timeline]
    for position, (produced_at, event) in enumerate(timeline):
        occurred = datetime.fromisoformat(event["occurred_at"])
        assert occurred.utcoffset() == timedelta(hours=8)
        assert occurred <= produced_at
        code, kind = event["lot_code"], event["type"]
        if kind == "berth_occupied":  # the sensor, then the stay it belongs to
            entry = events[position + 1]
            assert (entry["type"], entry["plate"], entry["berth_code"]) == ("entry", event["plate"],
                                                                             event["berth_code"])
            assert datetime.fromisoformat(entry["occurred_at"]) >= occurred
        if kind == "berth_vacant":
            left = events[position - 1]
            assert (left["type"], left["plate"], left["berth_code"]) == ("exit", event["plate"], event["berth_code"])
        if kind not in ("entry", "exit"):
            continue
        key = event["plate"] if event["plate"] is not None else f"ticket:{event['ticket_id']}"
        berth = event.get("berth_code")
        if kind == "entry":
            assert key not in where, f"{key} entered {code} while parked in {where.get(key)}"
            inside[code][key] = (occurred, berth)
            where[key] = code
            assert len(inside[code]) <= capacity[code]
            if berths[code]:
                assert berth in berths[code] and berth not in held[code]
                held[code].add(berth)
        else:
            assert key in inside[code], f"exit of {key} from {code} without an entry"
            entered, entry_berth = inside[code].pop(key)
            assert entered <= occurred and berth == entry_berth
            stays[code].append((occurred - entered).total_seconds())
            del where[key]
            held[code].discard(berth)
    return stays


def test_a_day_never_overfills_and_exits_only_cars_that_entered():
    lots = _city()
    model = CityModel(lots, rng=random.Random(3), rate=5, start=MONDAY, id_prefix="t")
    timeline = _run(model, MONDAY, hours=24, step_s=120)
    _replay(lots, timeline)
    types = Counter(event["type"] for _, event in timeline)
    assert types["entry"] and types["exit"] and types["lot_status"]
    assert types["berth_occupied"] and types["berth_vacant"]
    ids = [(event["lot_code"], event["event_id"]) for _, event in timeline]
    assert len(set(ids)) == len(ids)
    assert all(1 <= len(event["event_id"]) <= 64 for _, event in timeline)
    assert model.turned_away >= 0


def test_offices_fill_in_the_morning_and_residences_at_night():
    lots = _city(n_mall=0, n_street=0, capacity=100)
    model = CityModel(lots, rng=random.Random(5), rate=50, start=MONDAY)
    model.warm_start(MONDAY)
    occupancy = {}
    now = MONDAY
    while now < MONDAY + timedelta(hours=10):
        now += timedelta(seconds=120)
        model.step(now)
        if now.hour in (3, 10) and now.minute == 0:
            occupancy[now.hour] = {
                category: sum(model.occupied(lot.code) for lot in lots if lot.category == category)
                for category in ("office", "residential")}
    assert occupancy[10]["office"] > 3 * max(occupancy[3]["office"], 1)
    assert occupancy[10]["office"] >= 0.6 * 200
    assert occupancy[3]["residential"] > occupancy[10]["residential"]


def test_on_street_berths_turn_over_faster_than_lots():
    lots = _city(n_office=0, n_res=0, n_mall=3, n_street=3)
    model = CityModel(lots, rng=random.Random(11), rate=20, start=MONDAY + timedelta(hours=9))
    stays = _replay(lots, _run(model, MONDAY + timedelta(hours=9), hours=8, step_s=60))
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    street = [s for code, values in stays.items() if code.startswith("ROAD") for s in values]
    mall = [s for code, values in stays.items() if code.startswith("MALL") for s in values]
    assert street and mall
    assert mean(street) < mean(mall) / 1.5


def test_rate_caps_the_flow_of_cars():
    lots = _city(n_office=6, n_res=0, n_mall=0, n_street=0, capacity=300)
    start = MONDAY + timedelta(hours=7, minutes=30)  # the morning rush wants ~1,400 entries an hour
    model = CityModel(lots, rng=random.Random(2), rate=0.1, start=start)
    model.warm_start(start)
    moves = 0
    now = start
    for _ in range(60):
        now += timedelta(seconds=60)
        moves += sum(event["type"] in ("entry", "exit") for event in model.step(now))
    assert moves <= 0.1 * 3600 * 1.5
    assert moves > 0


def test_spare_rate_becomes_turnover_within_plausible_stays():
    lots = _city(n_office=0, n_res=0, n_mall=4, n_street=0, capacity=100)
    start = MONDAY + timedelta(hours=14)

    def moves(rate):
        model = CityModel(lots, rng=random.Random(9), rate=rate, start=start)
        return sum(event["type"] in ("entry", "exit") for _, event in _run(model, start, hours=1)[1:]
                   if event["occurred_at"] > start.isoformat())

    low, high = moves(0.05), moves(1000)
    assert high > 1.5 * low
    # Never faster than the mall's shortest mean stay (1 h): about 2 × cars parked per hour.
    parked = 4 * 100 * target_occupancy(PROFILES["mall"], start)
    assert high < 2 * parked * 1.5


def test_same_seed_same_city():
    def events(seed):
        model = CityModel(_city(), rng=random.Random(seed), rate=5, start=MONDAY, id_prefix="x")
        return [event for _, event in _run(model, MONDAY, hours=2, step_s=300)]

    assert events(1) == events(1)
    assert events(1) != events(2)


def test_speed_runs_the_profile_clock_but_events_keep_real_time():
    lots = _city(n_res=0, n_mall=0, n_street=0, capacity=100)
    model = CityModel(lots, rng=random.Random(4), rate=100, start=MONDAY, speed=60)
    model.warm_start(MONDAY)
    now = MONDAY
    for _ in range(10 * 60 // 2):  # ten real minutes = ten simulated hours
        now += timedelta(seconds=2)
        events = model.step(now)
        assert all(datetime.fromisoformat(e["occurred_at"]) <= now for e in events)
    assert model.sim_time(now) == MONDAY + timedelta(hours=10)
    assert sum(model.occupied(lot.code) for lot in lots) > 0.6 * 200


def test_resumed_cars_leave_with_their_own_plates():
    lots = [LotSpec("RES-1", "off_street", "mall", 10)]
    start = MONDAY + timedelta(hours=22)  # the mall empties
    model = CityModel(lots, rng=random.Random(8), rate=5, start=start)
    earlier = [ParkedCar(Vehicle("苏B12345", "blue", "small"), start - timedelta(hours=2)),
               ParkedCar(Vehicle("浙AD12345", "green", "small"), start - timedelta(hours=1))]
    model.resume("RES-1", earlier)
    assert model.occupied("RES-1") == 2
    timeline = _run(model, start, hours=3)
    exits = {event["plate"] for _, event in timeline if event["type"] == "exit"}
    assert {"苏B12345", "浙AD12345"} <= exits
    # The platform already has their entries: the model never sends them again.
    assert not any(event["type"] == "entry" and event["plate"] in {"苏B12345", "浙AD12345"}
                   for _, event in timeline)


def test_warm_start_reports_its_count_after_the_backdated_entries():
    lots = _city(n_res=0, n_mall=0, n_street=0)
    model = CityModel(lots, rng=random.Random(1), rate=5, start=MONDAY + timedelta(hours=10))
    events = model.warm_start(MONDAY + timedelta(hours=10))
    for lot in lots:
        mine = [e for e in events if e["lot_code"] == lot.code]
        assert mine[-1]["type"] == "lot_status"
        assert mine[-1]["free_berths"] == lot.total_berths - model.occupied(lot.code)
        assert all(e["type"] == "entry" for e in mine[:-1])


def test_a_lot_reports_its_count_soon_after_an_unreleased_exit():
    lots = _city(n_res=0, n_mall=0, n_street=0)
    start = MONDAY + timedelta(hours=10)
    model = CityModel(lots, rng=random.Random(1), rate=5, start=start, status_every_s=3600)
    model.warm_start(start)
    assert not any(e["type"] == "lot_status" for e in model.step(start + timedelta(seconds=5)))
    model.report_status_soon("OFFICE-1")
    statuses = [e for e in model.step(start + timedelta(seconds=10)) if e["type"] == "lot_status"]
    assert [e["lot_code"] for e in statuses] == ["OFFICE-1"]
    assert statuses[0]["free_berths"] == 60 - model.occupied("OFFICE-1")


def test_model_refuses_naive_start():
    with pytest.raises(ValueError):
        CityModel([], rng=random.Random(), rate=1, start=datetime(2026, 3, 16))


# --- outboxes ---------------------------------------------------------------------------------

def _heartbeat(code, now):
    return {"event_id": f"hb-{code}-{now.timestamp()}", "type": "heartbeat", "lot_code": code,
            "occurred_at": now.isoformat()}


def test_dispatcher_batches_heartbeats_and_outages():
    codes = [f"L{i}" for i in range(50)]
    rng = random.Random(6)
    start = MONDAY
    dispatcher = Dispatcher(codes, rng=rng, now=start, outage_every_s=120)
    sent: dict[str, list[datetime]] = {code: [] for code in codes}
    now = start
    seq = 0
    for _ in range(3600):
        now += timedelta(seconds=1)
        if now.second % 7 == 0:
            code = codes[seq % len(codes)]
            seq += 1
            dispatcher.add([{"event_id": f"e{seq}", "type": "entry", "lot_code": code}])
        for code, batch in dispatcher.due(now, _heartbeat):
            assert 1 <= len(batch) <= MAX_BATCH
            assert {event["lot_code"] for event in batch} == {code}
            sent[code].append(now)
    assert dispatcher.outages_started >= 3
    gaps = [max((b - a).total_seconds() for a, b in zip([start, *times], [*times, now], strict=True))
            for times in sent.values()]
    # Online lot systems are never quiet long enough to be marked offline (10 min)…
    assert sorted(gaps)[len(gaps) // 2] < 300
    # …and the ones that drop off stay away longer than that.
    assert sum(gap > 600 for gap in gaps) >= 3
    assert len(dispatcher.offline(now)) <= dispatcher.max_offline


def test_dispatcher_keeps_the_backlog_of_an_offline_lot_and_splits_big_batches():
    dispatcher = Dispatcher(["A"], rng=random.Random(1), now=MONDAY, outage_every_s=1e9)
    dispatcher.boxes["A"].offline_until = MONDAY + timedelta(minutes=12)
    dispatcher.add({"event_id": f"e{i}", "type": "entry", "lot_code": "A"} for i in range(2500))
    assert dispatcher.due(MONDAY + timedelta(minutes=11), _heartbeat) == []
    batches = dispatcher.due(MONDAY + timedelta(minutes=12), _heartbeat)
    assert [len(batch) for _, batch in batches] == [1000, 1000, 500]
    assert [e["event_id"] for _, batch in batches for e in batch] == [f"e{i}" for i in range(2500)]
    dispatcher.requeue("A", batches[-1][1])
    assert dispatcher.pending() == 500


# --- the command, against a live server ---------------------------------------------------------

@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simulate_city_posts_signed_batches_through_the_api(live_server):
    from io import StringIO

    from django.core.management import call_command

    from apps.berths.models import Berth
    from apps.lots.models import Device, ParkingLot
    from apps.sessions.models import IngestEvent, ParkingSession
    from tests.factories import LotFactory

    mall = LotFactory(category=ParkingLot.Category.MALL, total_berths=40, free_berths=40)
    home = LotFactory(category=ParkingLot.Category.RESIDENTIAL, total_berths=40, free_berths=40)
    street = LotFactory(kind=ParkingLot.Kind.ON_STREET, category=ParkingLot.Category.ROAD, zone_class="core",
                        road_class="arterial", total_berths=8, free_berths=8)
    Berth.objects.bulk_create(Berth(lot=street, code=f"{n:03d}") for n in range(1, 9))
    out, err = StringIO(), StringIO()

    call_command("simulate_city", url=live_server.url, lots=10, rate=200, speed=600, duration=4, seed=1,
                 stdout=out, stderr=err)

    assert "拒绝 0；" in out.getvalue() and err.getvalue() == "", out.getvalue() + err.getvalue()
    devices = Device.objects.filter(name__startswith="模拟器 ")
    assert devices.count() == 3 and all(device.last_seen_at for device in devices), out.getvalue()
    stored = IngestEvent.objects.all()
    assert stored.filter(type="entry").exists() and stored.filter(type="lot_status").count() >= 3
    assert ParkingSession.objects.filter(lot__in=[mall, home, street]).exists()
    street_events = stored.filter(lot=street).exclude(type__in=["lot_status", "heartbeat"])
    assert all(event.payload.get("berth_code") for event in street_events)
    # A second run reuses the simulator's devices and continues the cars already parked.
    again = StringIO()
    call_command("simulate_city", url=live_server.url, lots=10, rate=200, speed=600, duration=1, seed=2,
                 stdout=again, stderr=StringIO())
    assert Device.objects.filter(name__startswith="模拟器 ").count() == 3
    assert "接续在场车辆 0 辆" not in again.getvalue()
    assert "拒绝 0；" in again.getvalue()
