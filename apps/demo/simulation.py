"""The city simulator's model: vehicles, plates, daily occupancy curves and the lot systems' outboxes.

Pure code driven by one ``random.Random``: no Django, no database, no network, no clock. The
``simulate_city`` command feeds it real (aware) datetimes and posts what it produces through the
ingest API (SPEC §3), so everything here can be unit-tested by stepping a fake clock.

How a day works. Each lot follows a profile (office, mall, hospital, residential, on-street, scenic,
transport, public): a curve of the wanted occupancy over the local hour, one for weekdays and one for
weekends. Every step, a lot relaxes towards its curve (arrivals when below it, departures when
above) and also turns over: parked cars leave at a rate of one mean stay and are replaced, so
on-street berths (short stays) churn while residential ones barely move. ``rate`` is the events per
real second the simulator may spend: when the city's natural flow is below it, extra turnover is
added (never faster than the profile's shortest plausible mean stay); when the flow is above it,
every lot's flow is scaled down alike, so occupancy lags its curve instead of the sender falling
behind.

Clocks. ``speed`` runs the profile clock faster than real time (a day in 24/speed hours) so a demo
shows a morning rush in minutes. Events always carry real times (``occurred_at``): the platform
rejects times more than 5 minutes ahead, and offline detection runs on real time. Stays therefore
last 1/speed of their simulated length in real time, and fees are computed on real time.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from apps.common import plates

__all__ = [
    "MAX_BATCH",
    "PROFILES",
    "CityModel",
    "Dispatcher",
    "LotSpec",
    "ParkedCar",
    "PlateGenerator",
    "Profile",
    "Vehicle",
    "profile_for",
    "target_occupancy",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
MAX_BATCH: Final = 1000  # SPEC §3.2: at most 1000 events a request


# --- vehicles and plates ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Vehicle:
    """What the gate camera reads. ``plate`` is None for a car that took a ticket instead."""

    plate: str | None
    plate_color: str | None
    vehicle_class: str  # "small" | "large"
    ticket_id: str | None = None

    @property
    def key(self) -> str:
        """One identity per vehicle: its plate, or its ticket."""
        return self.plate if self.plate is not None else f"ticket:{self.ticket_id}"


SERIAL: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # [A-HJ-NP-Z0-9]
SERIAL_LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS: Final = "0123456789"

# Where cars parked in Wuxi come from. Wuxi's own plates (苏B) dominate, the rest of Jiangsu and the
# Yangtze delta neighbours follow, every other province appears now and then.
JIANGSU_LETTERS: Final = "ABCDEFGHJKLMN"  # 苏A Nanjing, 苏B Wuxi, 苏C Xuzhou, … 苏N Suqian
_PROVINCE_WEIGHTS: Final = {"苏": 0.80, "沪": 0.04, "浙": 0.04, "皖": 0.03}
_OTHER_PROVINCES_SHARE: Final = 1.0 - sum(_PROVINCE_WEIGHTS.values())
WUXI_SHARE_OF_JIANGSU: Final = 0.85

# Plate kinds as they show up at a Wuxi barrier: (share, kind, colour, vehicle class). The colour
# follows the kind as SPEC §2 and GA 36 have it: new energy green (small) or yellow-green (large),
# large ordinary vehicles and coach cars yellow, police and armed police white, Hong Kong/Macau black.
_KIND_MIX: Final = (
    (0.755, "ordinary", "blue", "small"),
    (0.170, "new_energy_small", "green", "small"),
    (0.030, "ordinary_large", "yellow", "large"),
    (0.010, "new_energy_large", "yellow_green", "large"),
    (0.010, "ticket", None, "small"),
    (0.010, "coach", "yellow", "small"),
    (0.007, "police", "white", "small"),
    (0.005, "hk_macau", "black", "small"),
    (0.003, "armed_police", "white", "small"),
)


class PlateGenerator:
    """Random vehicles with valid plates (SPEC §2), a Jiangsu bias and colours that fit the plate."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        others = [p for p in plates.PROVINCES if p not in _PROVINCE_WEIGHTS]
        self._provinces = list(_PROVINCE_WEIGHTS) + others
        weights = list(_PROVINCE_WEIGHTS.values()) + [_OTHER_PROVINCES_SHARE / len(others)] * len(others)
        self._province_cum = _cumulative(weights)
        self._kind_cum = _cumulative([row[0] for row in _KIND_MIX])
        self._tickets = 0

    def province(self) -> str:
        return self._provinces[_pick(self._province_cum, self.rng.random())]

    def authority(self, province: str) -> str:
        if province == "苏":
            if self.rng.random() < WUXI_SHARE_OF_JIANGSU:
                return "B"
            return self.rng.choice(JIANGSU_LETTERS.replace("B", ""))
        return self.rng.choice("ABCDEFGHJKLM")

    def _serial(self, n: int, letter_share: float = 0.15) -> str:
        rng = self.rng
        return "".join(rng.choice(SERIAL_LETTERS) if rng.random() < letter_share else rng.choice(DIGITS)
                       for _ in range(n))

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice(DIGITS) for _ in range(n))

    def _energy_letter(self) -> str:
        # D (battery electric) and F (plug-in hybrid) are nearly all of them on the road.
        return self.rng.choice("DDDDDDDFFFA")

    def __call__(self) -> Vehicle:
        rng = self.rng
        _, kind, color, vehicle_class = _KIND_MIX[_pick(self._kind_cum, rng.random())]
        if kind == "ticket":
            self._tickets += 1
            return Vehicle(plate=None, plate_color=None, vehicle_class=vehicle_class,
                           ticket_id=f"T{rng.getrandbits(40):010X}{self._tickets:04X}")
        if kind == "hk_macau":  # cross-border cars carry Guangdong's 粤Z
            value = "粤Z" + self._serial(4) + rng.choice("港澳")
        elif kind == "armed_police":
            value = "WJ" + self.province() + self._serial(5, letter_share=0.0)
        else:
            province = self.province()
            head = province + self.authority(province)
            if kind in ("ordinary", "ordinary_large"):
                value = head + self._serial(5)
            elif kind == "new_energy_small":
                value = head + self._energy_letter() + rng.choice(SERIAL) + self._digits(4)
            elif kind == "new_energy_large":
                value = head + self._digits(5) + self._energy_letter()
            elif kind == "coach":
                value = head + self._serial(4, letter_share=0.0) + "学"
            else:  # police
                value = head + self._serial(4, letter_share=0.0) + "警"
        return Vehicle(plate=plates.validate(value), plate_color=color, vehicle_class=vehicle_class)


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = float(sum(weights))
    out, running = [], 0.0
    for weight in weights:
        running += weight / total
        out.append(running)
    out[-1] = 1.0
    return out


def _pick(cumulative: list[float], u: float) -> int:
    return min(bisect.bisect_right(cumulative, u), len(cumulative) - 1)


# --- profiles ---------------------------------------------------------------------------------

Curve = tuple[tuple[float, float], ...]  # (local hour 0–24, wanted share of berths occupied)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    weekday: Curve
    weekend: Curve
    mean_stay_h: float  # natural turnover: a parked car leaves after this long on average
    min_mean_stay_h: float  # extra turnover (to use the rate budget) never goes faster than this
    churn_weight: float  # how much of the spare budget this kind of lot takes, per parked car


PROFILES: Final[dict[str, Profile]] = {
    profile.name: profile
    for profile in (
        Profile(
            "office",
            weekday=((0, .05), (7, .06), (8, .30), (9, .85), (12, .90), (13, .85), (17, .80), (18, .35),
                     (19, .12), (22, .06), (24, .05)),
            weekend=((0, .04), (9, .10), (12, .15), (17, .10), (24, .04)),
            mean_stay_h=8.0, min_mean_stay_h=2.0, churn_weight=0.3,
        ),
        Profile(
            "mall",
            weekday=((0, .05), (9, .05), (10, .15), (12, .40), (14, .45), (17, .60), (19, .85), (20.5, .80),
                     (22, .30), (23, .08), (24, .05)),
            weekend=((0, .05), (9, .08), (10, .30), (12, .70), (15, .85), (19, .92), (21, .75), (22.5, .20),
                     (24, .05)),
            mean_stay_h=2.5, min_mean_stay_h=1.0, churn_weight=1.0,
        ),
        Profile(
            "hospital",
            weekday=((0, .20), (6.5, .22), (8, .70), (9.5, .95), (11.5, .95), (13, .80), (15, .90), (17, .55),
                     (19, .30), (24, .20)),
            weekend=((0, .18), (8, .45), (10, .65), (16, .50), (19, .25), (24, .18)),
            mean_stay_h=2.5, min_mean_stay_h=1.0, churn_weight=1.0,
        ),
        Profile(
            "residential",
            weekday=((0, .92), (6, .92), (7, .80), (9, .45), (12, .40), (16, .45), (18, .70), (20, .88),
                     (22, .92), (24, .92)),
            weekend=((0, .92), (8, .85), (10, .65), (15, .60), (19, .85), (22, .92), (24, .92)),
            mean_stay_h=10.0, min_mean_stay_h=4.0, churn_weight=0.1,
        ),
        Profile(
            "road",  # on-street berths: short stays, high turnover
            weekday=((0, .15), (7, .20), (8, .60), (10, .80), (12, .75), (14, .80), (18, .85), (20, .60),
                     (22, .30), (24, .15)),
            weekend=((0, .15), (8, .40), (10, .70), (14, .80), (19, .80), (22, .35), (24, .15)),
            mean_stay_h=0.75, min_mean_stay_h=0.25, churn_weight=3.0,
        ),
        Profile(
            "scenic",
            weekday=((0, .03), (8, .05), (10, .30), (14, .35), (17, .15), (19, .05), (24, .03)),
            weekend=((0, .03), (8, .15), (10, .75), (14, .95), (16, .85), (18, .30), (20, .08), (24, .03)),
            mean_stay_h=3.0, min_mean_stay_h=1.5, churn_weight=0.7,
        ),
        Profile(
            "transport",
            weekday=((0, .30), (6, .35), (8, .70), (12, .75), (18, .80), (21, .60), (24, .30)),
            weekend=((0, .30), (6, .35), (9, .75), (17, .85), (21, .60), (24, .30)),
            mean_stay_h=5.0, min_mean_stay_h=1.0, churn_weight=0.5,
        ),
        Profile(
            "public",
            weekday=((0, .20), (7, .25), (9, .60), (12, .70), (18, .75), (21, .45), (24, .20)),
            weekend=((0, .20), (9, .50), (14, .75), (19, .70), (22, .35), (24, .20)),
            mean_stay_h=2.5, min_mean_stay_h=1.0, churn_weight=1.0,
        ),
    )
}
_CATEGORY_PROFILE: Final = {"office": "office", "mall": "mall", "hospital": "hospital",
                            "residential": "residential", "scenic": "scenic", "transport": "transport",
                            "road": "road", "public": "public"}
TRACKING_TAU_H: Final = 0.25  # a lot closes most of the gap to its curve within about 15 simulated minutes


def profile_for(kind: str, category: str) -> Profile:
    """On-street berths behave as on-street whatever their category; other lots by category."""
    if kind == "on_street":
        return PROFILES["road"]
    return PROFILES[_CATEGORY_PROFILE.get(category, "public")]


def _interpolate(curve: Curve, hour: float) -> float:
    hours = [point[0] for point in curve]
    i = bisect.bisect_right(hours, hour)
    if i <= 0:
        return curve[0][1]
    if i >= len(curve):
        return curve[-1][1]
    (h0, v0), (h1, v1) = curve[i - 1], curve[i]
    return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


def target_occupancy(profile: Profile, moment: datetime) -> float:
    """The share of berths the profile wants occupied at ``moment`` (aware; read in Wuxi's local time)."""
    local = moment.astimezone(SHANGHAI)
    hour = local.hour + local.minute / 60 + local.second / 3600
    curve = profile.weekend if local.weekday() >= 5 else profile.weekday
    return _interpolate(curve, hour)


# --- the city ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LotSpec:
    """A simulated lot as the registry has it. ``berth_codes`` are its real berths (on-street lots
    with sensors report each berth); a lot with berths never holds more cars than it has berths."""

    code: str
    kind: str  # "off_street" | "on_street"
    category: str
    total_berths: int
    berth_codes: tuple[str, ...] = ()

    @property
    def capacity(self) -> int:
        if self.berth_codes:
            return min(self.total_berths, len(self.berth_codes))
        return self.total_berths


@dataclass(slots=True)
class ParkedCar:
    vehicle: Vehicle
    entered_at: datetime
    berth_code: str | None = None


@dataclass(slots=True)
class _Lot:
    spec: LotSpec
    profile: Profile
    parked: dict[str, ParkedCar] = field(default_factory=dict)
    free_berths: list[str] = field(default_factory=list)
    next_status_at: datetime | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _round_stochastic(value: float, rng: random.Random) -> int:
    """An integer with expectation ``value``: keeps small per-step flows from rounding to nothing."""
    if value <= 0:
        return 0
    whole = math.floor(value)
    return whole + (1 if rng.random() < value - whole else 0)


class CityModel:
    """Who is parked where, and the events each step produces.

    ``step(now)`` advances the model to ``now`` and returns SPEC §3.2 event dicts in time order.
    Exits are only ever produced for cars the model let in, entries never overfill a lot, and a
    vehicle is parked in at most one lot at a time.
    """

    def __init__(self, lots: Iterable[LotSpec], *, rng: random.Random, rate: float, start: datetime,
                 speed: float = 1.0, id_prefix: str = "sim", berth_events: bool = True,
                 status_every_s: float = 1200.0, max_step_s: float = 60.0):
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        if rate <= 0 or speed <= 0:
            raise ValueError("rate and speed must be positive")
        self.rng = rng
        self.rate = float(rate)
        self.speed = float(speed)
        self.start = start
        self.id_prefix = id_prefix
        self.berth_events = berth_events
        self.status_every_s = status_every_s
        self.max_step_s = max_step_s
        self.plates = PlateGenerator(rng)
        self.lots: dict[str, _Lot] = {}
        for spec in lots:
            lot = _Lot(spec=spec, profile=profile_for(spec.kind, spec.category),
                       free_berths=list(spec.berth_codes[:spec.capacity]))
            rng.shuffle(lot.free_berths)
            self.lots[spec.code] = lot
        self._where: dict[str, str] = {}  # vehicle key → lot code
        self._seq = 0
        self._last = start
        self.turned_away = 0

    # --- clocks and queries ---

    def sim_time(self, now: datetime) -> datetime:
        """The profile clock: real time, ``speed`` times faster from ``start``."""
        return self.start + (now - self.start) * self.speed

    def occupied(self, code: str) -> int:
        return len(self.lots[code].parked)

    def parked_cars(self, code: str) -> list[ParkedCar]:
        return list(self.lots[code].parked.values())

    def is_parked(self, vehicle: Vehicle) -> bool:
        return vehicle.key in self._where

    # --- events ---

    def _event_id(self) -> str:
        self._seq += 1
        return f"{self.id_prefix}-{self._seq:x}"

    def _vehicle_fields(self, vehicle: Vehicle) -> dict:
        fields: dict = {"plate": vehicle.plate}
        if vehicle.plate_color is not None:
            fields["plate_color"] = vehicle.plate_color
        if vehicle.ticket_id is not None:
            fields["ticket_id"] = vehicle.ticket_id
        return fields

    def _sensed(self, lot: _Lot) -> bool:
        return self.berth_events and lot.spec.kind == "on_street" and bool(lot.spec.berth_codes)

    def _gate_event(self, kind: str, lot: _Lot, car: ParkedCar, at: datetime) -> dict:
        event = {"event_id": self._event_id(), "type": kind, "lot_code": lot.spec.code, "occurred_at": _iso(at),
                 **self._vehicle_fields(car.vehicle), "vehicle_class": car.vehicle.vehicle_class}
        if car.berth_code is not None:
            event["berth_code"] = car.berth_code
        elif lot.spec.kind == "off_street":
            event["gate"] = "E1" if kind == "entry" else "X1"
        return event

    def _sensor_event(self, kind: str, lot: _Lot, car: ParkedCar, at: datetime) -> dict:
        return {"event_id": self._event_id(), "type": kind, "lot_code": lot.spec.code, "occurred_at": _iso(at),
                "berth_code": car.berth_code, **self._vehicle_fields(car.vehicle)}

    def _arrive(self, lot: _Lot, vehicle: Vehicle, at: datetime) -> list[dict]:
        berth = lot.free_berths.pop() if lot.spec.berth_codes else None
        car = ParkedCar(vehicle=vehicle, entered_at=at, berth_code=berth)
        lot.parked[vehicle.key] = car
        self._where[vehicle.key] = lot.spec.code
        entry = self._gate_event("entry", lot, car, at)
        if not self._sensed(lot):
            return [entry]
        # On street the berth's sensor (a video pile) sees the car first; the attendant's handheld
        # (or the pile's plate read) records the stay a little later, naming the berth.
        sensed_at = at - timedelta(seconds=self.rng.uniform(2, 30))
        return [self._sensor_event("berth_occupied", lot, car, sensed_at), entry]

    def _leave(self, lot: _Lot, car: ParkedCar, at: datetime) -> list[dict]:
        del lot.parked[car.vehicle.key]
        del self._where[car.vehicle.key]
        if car.berth_code is not None:
            lot.free_berths.append(car.berth_code)
        leaving = self._gate_event("exit", lot, car, at)
        if not self._sensed(lot):
            return [leaving]
        return [leaving, self._sensor_event("berth_vacant", lot, car, at)]

    def arrive_booked(self, code: str, plate: str, at: datetime) -> list[dict]:
        """A driver who booked a place in this lot drives in with their plate (inside the booking's
        arrival window); they leave as any other car does. Nothing when the lot is full or unknown."""
        lot = self.lots.get(code)
        vehicle = Vehicle(plate=plate, plate_color="blue", vehicle_class="small")
        if lot is None or self.is_parked(vehicle) or len(lot.parked) >= lot.spec.capacity:
            return []
        return self._arrive(lot, vehicle, at)

    def status_event(self, code: str, at: datetime) -> dict:
        """The lot system's own count, an absolute snapshot (SPEC §3.3)."""
        lot = self.lots[code]
        return {"event_id": self._event_id(), "type": "lot_status", "lot_code": code, "occurred_at": _iso(at),
                "free_berths": max(0, lot.spec.total_berths - len(lot.parked)),
                "total_berths": lot.spec.total_berths}

    def report_status_soon(self, code: str) -> None:
        """Send the lot's own count at the next step. The platform keeps a car whose exit was not
        released (``unpaid``) counted as present; the lot system, which saw it drive off after paying
        at the barrier, corrects the count with a snapshot."""
        self.lots[code].next_status_at = self._last

    def leave_now(self, code: str, key: str, at: datetime) -> list[dict]:
        """The car ``key`` leaves ``code`` at ``at`` (a driver who has just paid at the lot's code);
        nothing if it has left already."""
        lot = self.lots[code]
        car = lot.parked.get(key)
        return self._leave(lot, car, at) if car is not None else []

    def heartbeat_event(self, code: str, at: datetime) -> dict:
        return {"event_id": self._event_id(), "type": "heartbeat", "lot_code": code, "occurred_at": _iso(at)}

    def _new_vehicle(self, lot: _Lot) -> Vehicle:
        for _ in range(50):
            vehicle = self.plates()
            # Kerbside berths have no barrier and no paper tickets: every car there has a plate read.
            if vehicle.key not in self._where and (vehicle.plate is not None or lot.spec.kind == "off_street"):
                return vehicle
        raise RuntimeError("could not draw a vehicle that is not already parked")

    # --- starting ---

    def resume(self, code: str, cars: Iterable[ParkedCar]) -> None:
        """Take over cars the platform already has parked (open sessions of an earlier run)."""
        lot = self.lots[code]
        for car in cars:
            if len(lot.parked) >= lot.spec.capacity or car.vehicle.key in self._where:
                continue
            berth = None
            if lot.spec.berth_codes:
                if not lot.free_berths:
                    continue
                berth = car.berth_code if car.berth_code in lot.free_berths else lot.free_berths[-1]
                lot.free_berths.remove(berth)
            lot.parked[car.vehicle.key] = ParkedCar(car.vehicle, car.entered_at, berth)
            self._where[car.vehicle.key] = code

    def warm_start(self, now: datetime) -> list[dict]:
        """Fill every lot up to its curve with cars that arrived earlier (backdated entries), then
        send each lot's count as a snapshot, so the map starts from a plausible city, not an empty one.
        Lots that already hold resumed cars keep them and are topped up."""
        events: list[dict] = []
        sim_now = self.sim_time(now)
        self._last = now
        for lot in self.lots.values():
            want = round(target_occupancy(lot.profile, sim_now) * lot.spec.capacity)
            arrivals = []
            for _ in range(max(0, want - len(lot.parked))):
                # Already parked for up to one mean stay (simulated), at least a few minutes.
                back_s = self.rng.uniform(300, max(600.0, lot.profile.mean_stay_h * 3600)) / self.speed
                arrivals.append(now - timedelta(seconds=back_s))
            for at in sorted(arrivals):
                events += self._arrive(lot, self._new_vehicle(lot), at)
            events.append(self.status_event(lot.spec.code, now))
            lot.next_status_at = now + timedelta(seconds=self.rng.uniform(0.5, 1.5) * self.status_every_s)
        return events

    # --- running ---

    def _expected_flows(self, lot: _Lot, sim_now: datetime, dt_h: float) -> tuple[float, float, float]:
        """(natural turnover, tracking gap move, turnover ceiling) for one step, in cars."""
        n = len(lot.parked)
        target = target_occupancy(lot.profile, sim_now) * lot.spec.capacity
        natural = n * dt_h / lot.profile.mean_stay_h
        track = (target - n) * (1 - math.exp(-dt_h / TRACKING_TAU_H))
        ceiling = n * dt_h / lot.profile.min_mean_stay_h
        return natural, track, ceiling

    def step(self, now: datetime) -> list[dict]:
        """Advance to ``now`` (real time) and return the events of the elapsed interval."""
        if now <= self._last:
            return []
        rng = self.rng
        # After a pause (the sender backing off from a server that is down) the city resumes rather
        # than replaying the whole gap at once.
        dt_s = min((now - self._last).total_seconds(), self.max_step_s)
        dt_h = dt_s * self.speed / 3600
        sim_now = self.sim_time(now)
        flows = {code: self._expected_flows(lot, sim_now, dt_h) for code, lot in self.lots.items()}
        # Each turnover is an exit and an entry; each tracking move one event.
        wanted = sum(2 * natural + abs(track) for natural, track, _ in flows.values())
        budget = self.rate * dt_s
        scale = min(1.0, budget / wanted) if wanted > 0 else 1.0
        spare = max(0.0, budget - wanted) / 2  # extra turnovers the budget still allows
        weights = {code: len(lot.parked) * lot.profile.churn_weight for code, lot in self.lots.items()}
        weight_sum = sum(weights.values())

        events: list[dict] = []
        for code, lot in self.lots.items():
            natural, track, ceiling = flows[code]
            extra = 0.0
            if spare > 0 and weight_sum > 0:
                extra = min(spare * weights[code] / weight_sum, max(0.0, ceiling - natural))
            turnover = scale * natural + extra
            exits = _round_stochastic(turnover + scale * max(0.0, -track), rng)
            entries = _round_stochastic(turnover + scale * max(0.0, track), rng)
            if exits or entries:
                events += self._lot_step(lot, now, dt_s, exits, entries)
            if lot.next_status_at is None or now >= lot.next_status_at:
                events.append(self.status_event(code, now))
                lot.next_status_at = now + timedelta(seconds=rng.uniform(0.5, 1.5) * self.status_every_s)
        self._last = now
        return events

    def _lot_step(self, lot: _Lot, now: datetime, dt_s: float, exits: int, entries: int) -> list[dict]:
        rng = self.rng
        moves = [("exit", now - timedelta(seconds=rng.uniform(0, dt_s))) for _ in range(exits)]
        moves += [("entry", now - timedelta(seconds=rng.uniform(0, dt_s))) for _ in range(entries)]
        moves.sort(key=lambda move: move[1])
        # A car stays at least a couple of simulated minutes before it can be seen leaving.
        min_stay = timedelta(seconds=120 / self.speed)
        events: list[dict] = []
        for what, at in moves:
            if what == "exit":
                # Departures are memoryless (exponential stays): any car that has been in a while.
                candidates = [car for car in lot.parked.values() if car.entered_at <= at - min_stay]
                if candidates:
                    events += self._leave(lot, rng.choice(candidates), at)
            elif len(lot.parked) < lot.spec.capacity:
                events += self._arrive(lot, self._new_vehicle(lot), at)
            else:
                self.turned_away += 1
        return events


# --- the lot systems' side: outboxes, batches, heartbeats, outages ------------------------------

@dataclass(slots=True)
class _Outbox:
    events: list[dict] = field(default_factory=list)
    next_flush_at: datetime | None = None
    last_sent_at: datetime | None = None
    offline_until: datetime | None = None


class Dispatcher:
    """When each simulated lot system posts, and what.

    A lot system buffers its events and posts them every few seconds as one batch (at most
    ``MAX_BATCH``), sends a heartbeat when it has been quiet for a while, and now and then drops
    off the network for longer than the platform's 10-minute offline threshold, keeping its events
    and uploading the backlog (late, out of order relative to other lots) when it comes back.
    """

    def __init__(self, codes: Iterable[str], *, rng: random.Random, now: datetime,
                 flush_every_s: tuple[float, float] = (2.0, 6.0), heartbeat_after_s: float = 240.0,
                 outage_s: tuple[float, float] = (660.0, 900.0), outage_every_s: float = 300.0,
                 max_offline_share: float = 0.02):
        self.rng = rng
        self.flush_every_s = flush_every_s
        self.heartbeat_after_s = heartbeat_after_s
        self.outage_s = outage_s
        self.outage_every_s = outage_every_s
        self.boxes = {code: _Outbox() for code in codes}
        for box in self.boxes.values():
            box.next_flush_at = now + timedelta(seconds=rng.uniform(0, flush_every_s[0]))
            box.last_sent_at = now
        self.max_offline = max(1, int(len(self.boxes) * max_offline_share)) if self.boxes else 0
        self._next_outage_at = now + timedelta(seconds=rng.expovariate(1 / outage_every_s))
        self.outages_started = 0

    def add(self, events: Iterable[dict]) -> None:
        for event in events:
            self.boxes[event["lot_code"]].events.append(event)

    def offline(self, now: datetime) -> list[str]:
        return [code for code, box in self.boxes.items() if box.offline_until is not None and now < box.offline_until]

    def pending(self) -> int:
        return sum(len(box.events) for box in self.boxes.values())

    def _maybe_start_outage(self, now: datetime) -> None:
        while self.boxes and now >= self._next_outage_at:
            online = [code for code, box in self.boxes.items()
                      if box.offline_until is None or now >= box.offline_until]
            if len(self.boxes) - len(online) < self.max_offline and online:
                code = self.rng.choice(sorted(online))
                self.boxes[code].offline_until = self._next_outage_at + timedelta(
                    seconds=self.rng.uniform(*self.outage_s))
                self.outages_started += 1
            self._next_outage_at += timedelta(seconds=self.rng.expovariate(1 / self.outage_every_s))

    def due(self, now: datetime, heartbeat) -> list[tuple[str, list[dict]]]:
        """Batches to post now: ``(lot code, events)``; ``heartbeat(code, now)`` makes a heartbeat event."""
        self._maybe_start_outage(now)
        batches: list[tuple[str, list[dict]]] = []
        for code, box in self.boxes.items():
            if box.offline_until is not None:
                if now < box.offline_until:
                    continue
                box.offline_until = None
                box.next_flush_at = now  # back on the network: upload the backlog at once
            if now < box.next_flush_at:
                continue
            box.next_flush_at = now + timedelta(seconds=self.rng.uniform(*self.flush_every_s))
            if not box.events and (now - box.last_sent_at).total_seconds() >= self.heartbeat_after_s:
                box.events.append(heartbeat(code, now))
            while box.events:
                batch, box.events = box.events[:MAX_BATCH], box.events[MAX_BATCH:]
                batches.append((code, batch))
            if batches and batches[-1][0] == code:
                box.last_sent_at = now
        return batches

    def requeue(self, code: str, batch: list[dict]) -> None:
        """Put a batch that could not be delivered back in front of the lot's outbox."""
        self.boxes[code].events[:0] = batch
