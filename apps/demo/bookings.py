"""The demo city's appointment parking and off-peak sharing (issue 9 item 9).

``bookings_seed`` gives every hospital lot a booking site with slots for the coming days (some
nearly full, some full), a couple of malls' EV berths to book, and a few office lots' off-peak
sharing offers with contracts. ``SimulatedPatients`` is what the simulator's drivers do: book
through the booking service (their plates are bound in the simulator's process only), drive in
inside their arrival window, and now and then fail to show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common.citizens import register_bound_plates
from apps.common.errors import DomainError
from apps.lots.models import ParkingLot
from apps.reservations import services as booking
from apps.reservations.models import BerthKind, BookingSite, Reservation, SharingApplication, SharingOffer, Slot

SLOT_HOURS = range(8, 17)  # 08:00–16:00 starts, an hour each
DAYS_AHEAD = 7
NO_SHOW_SHARE = 0.08
PATIENT_USERNAME = "demo-patient"


def _plate(n: int) -> str:
    return f"苏B{n % 100000:05d}"


def _patient():
    user, _made = get_user_model().objects.get_or_create(
        username=PATIENT_USERNAME, defaults={"first_name": str(_("演示患者")), "is_active": True})
    return user


def _fill(rng: random.Random, quota: int) -> int:
    """How many places of a slot the demo has booked: some full, some nearly (1–40 left), most light."""
    u = rng.random()
    if u < 0.15:
        return quota
    if u < 0.45:
        return quota - rng.randint(1, min(40, quota))
    return rng.randint(0, quota // 3)


def bookings_seed(*, lots: list[ParkingLot], now: datetime, rng: random.Random) -> dict[str, int]:
    """Sites, slots and bookings for the coming days; offers with contracts. Rows, straight: the
    demo's own bookings are data, written with the counters they imply."""
    patient = _patient()
    sites: list[BookingSite] = []
    for n, lot in enumerate(lot for lot in lots if lot.category == ParkingLot.Category.HOSPITAL):
        sites.append(BookingSite(name=lot.name.removesuffix("停车场"), lot=lot, waives_fee=n % 2 == 0,
                              booking_window_days=DAYS_AHEAD))
    for lot in [lot for lot in lots if lot.category == ParkingLot.Category.MALL and lot.ev_berths][:2]:
        sites.append(BookingSite(name=_("%(lot)s充电泊位") % {"lot": lot.name}, kind=BookingSite.Kind.LOT, lot=lot,
                              waives_fee=False, ev_free_minutes=120))
    BookingSite.objects.bulk_create(sites)
    today = timezone.localtime(now).date()
    slots: list[Slot] = []
    for site in sites:
        kind = BerthKind.EV if site.kind == BookingSite.Kind.LOT else BerthKind.STANDARD
        for day in range(DAYS_AHEAD + 1):
            for hour in SLOT_HOURS:
                starts = timezone.make_aware(datetime.combine(today + timedelta(days=day), time(hour)))
                quota = rng.randint(2, 6) if kind == BerthKind.EV else rng.choice((20, 30, 40, 60))
                slots.append(Slot(hospital=site, berth_kind=kind, starts_at=starts, ends_at=starts + timedelta(hours=1),
                                  quota=quota))
    Slot.objects.bulk_create(slots)
    reservations, plate_no = [], 0
    for slot in slots:
        if slot.starts_at <= now:
            continue
        slot.booked = _fill(rng, slot.quota)
        for _n in range(slot.booked):
            plate_no += 1
            site = slot.hospital
            reservations.append(Reservation(
                code=booking.new_code(), slot=slot, hospital=site, lot_id=site.lot_id, user=patient,
                plate=_plate(plate_no), day=timezone.localtime(slot.starts_at).date(), created_at=now,
                arrive_from=slot.starts_at - timedelta(minutes=site.arrive_before_minutes),
                arrive_until=slot.starts_at + timedelta(minutes=site.arrive_after_minutes)))
    Slot.objects.bulk_update(slots, ["booked"], batch_size=500)
    Reservation.objects.bulk_create(reservations, batch_size=1000)
    offers = _sharing_seed(lots, now=now, rng=rng)
    return {"sites": len(sites), "slots": len(slots), "reservations": len(reservations), "offers": offers}


def _sharing_seed(lots: list[ParkingLot], *, now: datetime, rng: random.Random) -> int:
    """Office lots share their berths at night; their residents applied, most were approved."""
    offices = [lot for lot in lots if lot.category == ParkingLot.Category.OFFICE][:3]
    resident = _patient()
    for n, lot in enumerate(offices):
        offer = SharingOffer.objects.create(
            lot=lot, title=_("%(lot)s错时共享") % {"lot": lot.name}, berths=rng.choice((10, 20, 30)),
            monthly_price_fen=rng.choice((12000, 15000, 20000)))
        for i in range(5):
            application = SharingApplication.objects.create(
                offer=offer, user=resident, plate=f"苏B9{n}{i:03d}", address=_("演示小区"), created_at=now)
            if i:  # one of five waits for staff
                booking.sharing_application_approve(application_id=application.pk, actor=None, now=now)
    return len(offices)


@dataclass
class SimulatedPatients:
    """The simulator's drivers at the booking sites: who books, who arrives, who never comes."""

    rng: random.Random
    lot_codes: set[str]
    plates: dict[int, list[str]] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    next_plate: int = 60000

    def __post_init__(self):
        # The drivers' plates are bound in the simulator's own process only (it stands in for WeChat there).
        register_bound_plates(lambda user: self.plates.get(user.pk, []))

    def book_some(self, *, now: datetime, count: int = 3) -> int:
        """A few new bookings for open slots in the coming days (a patient who books today)."""
        user = _patient()
        open_slots = list(Slot.objects.filter(starts_at__gt=now + timedelta(hours=2), booked__lt=F("quota"),
                                              hospital__lot__code__in=self.lot_codes)
                          .values_list("pk", flat=True)[:200])
        made = 0
        for slot_id in self.rng.sample(open_slots, min(count, len(open_slots))):
            self.next_plate += 1
            plate = _plate(self.next_plate)
            self.plates.setdefault(user.pk, []).append(plate)
            try:
                booking.reservation_book(user=user, slot_id=slot_id, plate=plate, now=now)
                made += 1
            except DomainError:
                continue
        return made

    def arriving(self, *, now: datetime) -> list[tuple[str, str]]:
        """(lot code, plate) of the bookings whose arrival window is open, each once; a share of
        them never comes (the sweep marks them no-shows)."""
        rows = (Reservation.objects.filter(state=Reservation.State.BOOKED, arrive_from__lte=now, arrive_until__gt=now,
                                           lot__code__in=self.lot_codes)
                .exclude(pk__in=self.seen).values_list("pk", "lot__code", "plate")[:200])
        arriving = []
        for pk, code, plate in rows:
            self.seen.add(pk)
            if self.rng.random() >= NO_SHOW_SHARE:
                arriving.append((code, plate))
        return arriving
