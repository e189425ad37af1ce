"""A month of made-up history for the demo city, so every chart and the forecast have something to show.

For each demo lot, occupancy follows its profile (the simulator's weekday/weekend curves by kind and
category: hospital, mall, office, residential, on-street, …) times a lot's own level, a day's mood and
an hour's noise, all from ``random.Random(seed)``. A few incident days stand out: an outage day (some
lots offline for hours: ``LotOutage`` rows, offline samples), a rainstorm (everyone stays home but the
hospitals) and a city event (malls, scenic spots and streets overflow in the afternoon).

What is written:

- ``OccupancySample`` rows: every 5 minutes over the last ``fine_days`` days (24 hours), once an hour
  before that (a month at 5 minutes would be 8,640 rows a lot, 3.5 million for the demo's 400 lots:
  far too slow to write at a ``make run`` on SQLite, and the hourly rollups need no more to show a month);
  except for every ``FORECAST_EVERY``-th lot (by code), sampled every 5 minutes since local midnight
  ``FORECAST_DAYS`` days ago: what the forecast's evaluation needs (a week held out, the week before it
  fitted, each point beside the count a week earlier; apps.analytics.forecast). The forecast's own
  periodic tasks judge them (the embedded scheduler runs the weekly evaluation when it starts, then the
  five-minute refresh): only the lots the model beats the naive baselines for get a forecast;
- closed stays at a modest count (a sample of the flow the curves imply, entries weighted by the
  curve), priced by the fee engine with the lot's tariff: most paid at the barrier, some left on
  pay-later as arrears, part of which is paid back days later (each with its ledger rows);
- ``LotHour`` and ``LotDay``, by the platform's own rollups (``apps.analytics.rollups``).
"""

from __future__ import annotations

import math
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.analytics import rollups
from apps.analytics.dashboards.rollup import region_days_refresh_range
from apps.analytics.models import OccupancySample
from apps.lots.fees import SHANGHAI, compute_fee
from apps.lots.models import LotOutage, ParkingLot
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry

from .simulation import PlateGenerator, profile_for, target_occupancy

__all__ = ["DemoHistory", "demo_history_seed"]

FINE_DAYS = 1
#: every this-many-th lot has five-minute samples over the last FORECAST_DAYS days, for the forecast
FORECAST_EVERY = 4
FORECAST_DAYS = 14
STEP = timedelta(minutes=5)
COARSE = timedelta(hours=1)
STAYS_SHARE = 0.003  # of the entries the curves imply: a sample, enough to give every chart its shape
MEAN_STAYS_PER_LOT_DAY = 1.5  # at most, on average: about one a lot a day, some ten thousand in all
MAX_STAYS_PER_LOT_DAY = 4
PAY_LATER_SHARE = 0.25  # of priced stays in lots that allow it
RECOVERED_SHARE = 0.55  # of arrears, paid back one to six days later
_REASON = "演示历史数据"
Kind = SessionMoneyEntry.Kind


@dataclass(slots=True)
class DemoHistory:
    days: int = 0
    samples: int = 0
    stays: int = 0
    arrears: int = 0
    outages: int = 0
    hour_rows: int = 0
    day_rows: int = 0
    forecast_lots: int = 0  # lots with FORECAST_DAYS of five-minute samples
    seconds: float = 0.0
    incidents: dict | None = None


@dataclass(slots=True)
class _Lot:
    id: int
    code: str
    total: int
    kind: str
    category: str
    pay_later: bool
    rules: dict | None
    tariff_id: int | None
    version_id: int | None
    level: float
    detailed: bool = False  # five-minute samples over the last FORECAST_DAYS days


def _lots(rng: random.Random, *, forecast_every: int) -> list[_Lot]:
    rows = ParkingLot.objects.order_by("code").values_list(
        "id", "code", "total_berths", "kind", "category", "allow_pay_later", "tariff__rules", "tariff_id",
        "tariff__version_id")
    return [_Lot(*row, level=rng.uniform(0.75, 1.1), detailed=bool(forecast_every) and n % forecast_every == 0)
            for n, row in enumerate(rows)]


def _curves():
    """Each profile's wanted occupancy at every 5-minute slot of a weekday and of a weekend day."""
    monday, saturday = datetime(2026, 3, 16, tzinfo=SHANGHAI), datetime(2026, 3, 21, tzinfo=SHANGHAI)
    cache: dict[str, tuple[list[float], list[float]]] = {}

    def curve(kind: str, category: str):
        profile = profile_for(kind, category)
        if profile.name not in cache:
            cache[profile.name] = tuple([target_occupancy(profile, base + STEP * i) for i in range(288)]
                                        for base in (monday, saturday))
        return profile, cache[profile.name]

    return curve


def _incidents(rng: random.Random, days: list[date]) -> dict[str, date]:
    """Three different days, none of the last two (their 5-minute detail is the 'normal' recent past)."""
    pool = days[:-FINE_DAYS] if len(days) > FINE_DAYS + 3 else days
    picked = rng.sample(pool, k=min(3, len(pool)))
    return dict(zip(("outage", "storm", "event"), picked, strict=False))


def _mood(lot: _Lot, day: date, incidents: dict[str, date], hour: int) -> float:
    if day == incidents.get("storm") and lot.category != ParkingLot.Category.HOSPITAL:
        return 0.6
    if day == incidents.get("event") and 13 <= hour <= 21 and (
            lot.kind == ParkingLot.Kind.ON_STREET or lot.category in ("mall", "scenic", "public")):
        return 1.35
    return 1.0


def _instants(start: datetime, now: datetime, fine_from: datetime) -> list[datetime]:
    out, at = [], start
    while at <= now:
        out.append(at)
        at = at + (STEP if at >= fine_from else COARSE)
        if at > fine_from and out[-1] < fine_from:
            at = fine_from
    return out


def _everyone_at(instants: list[datetime], fine_from: datetime) -> list[bool]:
    """Per instant, whether every lot is sampled then (on the hour, or in the last ``fine_days``) or
    only the detailed ones (the five-minute marks between)."""
    return [at >= fine_from or at.astimezone(SHANGHAI).minute == 0 for at in instants]


def demo_history_seed(*, days: int = 30, seed: int = 2026, now: datetime | None = None,
                      fine_days: int = FINE_DAYS, forecast_every: int = FORECAST_EVERY) -> DemoHistory:
    """Write ``days`` days of history before ``now`` for every lot, then roll it up. Meant for the
    freshly seeded demo city (``seed_demo --history-days``): nothing checks for history already there."""
    began = time.monotonic()
    now = rollups.sample_instant(now or timezone.now())
    rng = random.Random(seed * 7919 + 11)
    result = DemoHistory(days=days)
    if days <= 0:
        return result
    today = now.date()
    first_day = today - timedelta(days=days)
    day_list = [first_day + timedelta(days=n) for n in range(days + 1)]
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=SHANGHAI)
    fine_from = max(start, rollups.hour_floor(now - timedelta(days=fine_days))) if fine_days > 0 else now + STEP
    detail_from = max(start, datetime.combine(today - timedelta(days=FORECAST_DAYS), datetime.min.time(),
                                              tzinfo=SHANGHAI))
    incidents = _incidents(rng, day_list[:-1])
    result.incidents = {name: day.isoformat() for name, day in incidents.items()}
    lots = _lots(rng, forecast_every=forecast_every)
    result.forecast_lots = sum(lot.detailed for lot in lots)
    curve = _curves()
    instants = _instants(start, now, min(fine_from, detail_from) if result.forecast_lots else fine_from)

    with transaction.atomic(), _big_cache():
        outages = _outages(rng, lots, incidents.get("outage"))
        result.outages = len(outages)
        occupied = _samples(rng, lots, curve, instants, _everyone_at(instants, fine_from), incidents, outages,
                            result)
        _stays(rng, lots, curve, day_list, now, occupied, result)
        result.hour_rows, result.day_rows = rollups.roll_up_range(first_day, today - timedelta(days=1), now=now)
        # The dashboards read the region rollups of those days (the periodic task redoes only the last two).
        region_days_refresh_range(start=first_day, end=today - timedelta(days=1))
        result.hour_rows += rollups.roll_up_hours(datetime.combine(today, datetime.min.time(), tzinfo=SHANGHAI),
                                                  rollups.hour_floor(now))
    result.seconds = time.monotonic() - began
    return result


@contextmanager
def _big_cache():
    """SQLite's default page cache (2 MB) thrashes on the indexes of half a million new rows: writing the
    history takes several times longer. A larger cache for this connection, while it writes."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        before = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute("PRAGMA cache_size = -131072")  # KiB: 128 MiB
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _outages(rng: random.Random, lots: list[_Lot], day: date | None) -> dict[int, tuple[datetime, datetime]]:
    if day is None or not lots:
        return {}
    chosen = rng.sample(lots, k=max(1, len(lots) // 20))
    spans = {}
    for lot in chosen:
        began = datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(
            hours=rng.randint(6, 16), minutes=rng.choice((0, 10, 20, 30, 40, 50)))
        spans[lot.id] = (began, began + timedelta(minutes=rng.randint(120, 300)))
    LotOutage.objects.bulk_create([LotOutage(lot_id=lot_id, started_at=began, ended_at=ended)
                                   for lot_id, (began, ended) in spans.items()])
    return spans


def _samples(rng, lots, curve, instants, everyone, incidents, outages, result) -> dict[tuple[int, date, int], float]:
    """Write the samples; return each lot's occupied share by (lot, day, hour), which the stays follow."""
    fields = ("lot", "at", "free_berths", "total_berths", "online")
    adapt = connection.ops.adapt_datetimefield_value
    noise = {lot.id: 0.0 for lot in lots}
    mood_of_day: dict[tuple[int, date], float] = {}
    last_free = {lot.id: lot.total for lot in lots}
    shares: dict[tuple[int, date, int], float] = {}
    batch: list[tuple] = []
    previous_hour = None
    detailed = [lot for lot in lots if lot.detailed]
    for at, all_lots in zip(instants, everyone, strict=True):
        local = at.astimezone(SHANGHAI)
        day, hour = local.date(), local.hour
        slot = hour * 12 + local.minute // 5
        weekend = local.weekday() >= 5
        db_at = adapt(at)
        new_hour = (day, hour) != previous_hour
        previous_hour = (day, hour)
        for lot in (lots if all_lots else detailed):
            if new_hour:
                noise[lot.id] = 0.7 * noise[lot.id] + rng.gauss(0, 0.035)
            key = (lot.id, day)
            if key not in mood_of_day:
                mood_of_day[key] = rng.gauss(1.0, 0.06)
            _profile, (weekday_curve, weekend_curve) = curve(lot.kind, lot.category)
            wanted = (weekend_curve if weekend else weekday_curve)[slot]
            share = wanted * lot.level * mood_of_day[key] * _mood(lot, day, incidents, hour) + noise[lot.id]
            share = min(max(share + rng.uniform(-0.015, 0.015), 0.0), 1.0)
            shares.setdefault((lot.id, day, hour), share)
            span = outages.get(lot.id)
            online = span is None or not (span[0] <= at < span[1])
            if online:
                last_free[lot.id] = lot.total - round(share * lot.total)
            batch.append((lot.id, db_at, last_free[lot.id], lot.total, online))
        if len(batch) >= 20_000:
            rollups.insert_rows(OccupancySample, fields, batch)
            result.samples += len(batch)
            batch = []
    if batch:
        rollups.insert_rows(OccupancySample, fields, batch)
        result.samples += len(batch)
    return shares


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _stays(rng, lots, curve, day_list, now, shares, result) -> None:
    plates = PlateGenerator(rng)
    fees: dict[tuple, int] = {}
    stays: list[ParkingSession] = []
    outcomes: list[tuple[str, datetime]] = []
    for lot in lots:
        if not lot.total:
            continue
        profile, _curves_of_lot = curve(lot.kind, lot.category)
        for day in day_list:
            hours = [(h, shares.get((lot.id, day, h), 0.0)) for h in range(24)]
            weight = sum(share for _h, share in hours)
            if weight <= 0:
                continue
            implied = weight * lot.total / profile.mean_stay_h  # entries a day the curve implies
            mean = min(implied * STAYS_SHARE, MEAN_STAYS_PER_LOT_DAY)
            for _ in range(min(_poisson(rng, mean), MAX_STAYS_PER_LOT_DAY)):
                pick, hour = rng.random() * weight, 0
                for hour, share in hours:  # noqa: B007 (the hour the pick lands in)
                    pick -= share
                    if pick <= 0:
                        break
                entry = datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(
                    hours=hour, minutes=rng.randrange(0, 60, 5))
                minutes = max(10, min(round(rng.expovariate(1 / profile.mean_stay_h) * 12) * 5, 24 * 60))
                exit_ = entry + timedelta(minutes=minutes)
                if exit_ > now:
                    continue
                vehicle = plates()
                new_energy = vehicle.plate_color in ("green", "yellow_green")
                key = (lot.tariff_id, entry, minutes, vehicle.vehicle_class, new_energy)
                if key not in fees:
                    fees[key] = compute_fee(lot.rules, vehicle_class=vehicle.vehicle_class, entry=entry, exit=exit_,
                                            new_energy=new_energy) if lot.rules else 0
                amount = fees[key]
                if amount == 0:
                    reason = ParkingSession.ReleaseReason.FREE
                elif vehicle.plate and lot.pay_later and rng.random() < PAY_LATER_SHARE:
                    reason = ParkingSession.ReleaseReason.PAY_LATER
                else:
                    reason = ParkingSession.ReleaseReason.PAID
                paid = amount if reason == ParkingSession.ReleaseReason.PAID else 0
                stays.append(ParkingSession(
                    lot_id=lot.id, plate=vehicle.plate, ticket_id=vehicle.ticket_id or "",
                    plate_color=vehicle.plate_color or "", vehicle_class=vehicle.vehicle_class, new_energy=new_energy,
                    entry_at=entry, exit_at=exit_, closed_at=exit_, amount_fen=amount, paid_fen=paid,
                    due_fen=amount - paid, tariff_id=lot.tariff_id, tariff_version_id=lot.version_id,
                    state=ParkingSession.State.CLOSED, release_reason=reason,
                    entry_event_id=f"hist-{len(stays)}-in", exit_event_id=f"hist-{len(stays)}-out"))
                outcomes.append((reason, exit_))
    ParkingSession.objects.bulk_create(stays, batch_size=2000)
    result.stays = len(stays)

    ledger: list[SessionMoneyEntry] = []
    debts: list[tuple[ParkingSession, Arrears, datetime | None]] = []
    for stay, (reason, exit_) in zip(stays, outcomes, strict=True):
        if reason == ParkingSession.ReleaseReason.PAID:
            ledger.append(SessionMoneyEntry(session=stay, kind=Kind.PAYMENT, amount_fen=stay.amount_fen, reason=_REASON,
                                            created_at=exit_ - timedelta(minutes=rng.randint(1, 10))))
        elif reason == ParkingSession.ReleaseReason.PAY_LATER:
            back = exit_ + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 12))
            repaid = back if rng.random() < RECOVERED_SHARE and back <= now else None
            debts.append((stay, Arrears(session=stay, plate=stay.plate, lot_id=stay.lot_id, amount_fen=stay.amount_fen,
                                        paid_fen=stay.amount_fen if repaid else 0, created_at=exit_,
                                        paid_at=repaid), repaid))
    Arrears.objects.bulk_create([debt for _stay, debt, _repaid in debts], batch_size=2000)
    for stay, debt, repaid in debts:
        ledger.append(SessionMoneyEntry(session=stay, arrears=debt, kind=Kind.ARREARS, amount_fen=debt.amount_fen,
                                        reason=_REASON, created_at=debt.created_at))
        if repaid:
            ledger.append(SessionMoneyEntry(session=stay, arrears=debt, kind=Kind.ARREARS_PAYMENT,
                                            amount_fen=debt.amount_fen, reason=_REASON, created_at=repaid))
    SessionMoneyEntry.objects.bulk_create(ledger, batch_size=2000)
    result.arrears = len(debts)
