"""The gate side of booking and sharing, through the sessions app's release port.

Two providers, registered in ``ReservationsConfig.ready()``, one query per batch each:

- ``reservations``: an entry of a booked plate inside its arrival window marks the booking
  ``arrived`` (one UPDATE, inside the batch's transaction); at exit an arrived booking whose site
  waives the fee releases the car as ``reservation`` with the due waived; a booked EV charging
  berth brings its free minutes as a free window (充停一体化), and otherwise the stay is billed as usual;
  when the stay closes (the car has left) the booking is ``completed`` at once.
- ``sharing``: at exit an active off-peak contract of the plate in that lot brings its windows
  as free windows; the car leaves as ``sharing_contract`` when nothing is left to charge, and time
  outside the windows is billed as usual.

Most lots take no bookings and share nothing: which lots do is kept in the shared cache (one
query to rebuild it, forgotten whenever a site or an offer is saved or deleted), so a batch from
any other lot costs the port no query at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Case, CharField, Q, Value, When
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from apps.common.cache import cache_delete, cache_get, cache_set
from apps.sessions import release

from .models import BerthKind, BookingSite, Reservation, SharingContract, SharingOffer
from .windows import offer_windows

#: how far back from an exit a contract's windows are laid out (a stay longer than this is priced
#: without the windows before it)
SHARING_LOOKBACK = timedelta(days=40)
HOSPITAL_WAIVER_RULE = "hospital_reservation_free"
EV_CHARGING_RULE = "ev_charging_free_minutes"
SHARING_RULE = "sharing_contract_windows"

_LOTS_KEY = "reservations:gate-lots:v1"
_LOTS_TIMEOUT = 300
SITES, OFFERS = "sites", "offers"


def gate_lots() -> dict[str, frozenset[int]]:
    """The ids of the lots with a booking site and of those with a sharing offer."""
    found = cache_get(_LOTS_KEY)
    if found is None:
        rows = (BookingSite.objects.order_by().values_list("lot_id", Value(SITES, output_field=CharField()))
                .union(SharingOffer.objects.order_by().values_list("lot_id", Value(OFFERS, output_field=CharField()))))
        found = {SITES: frozenset(), OFFERS: frozenset()}
        for lot_id, kind in rows:
            found[kind] = found[kind] | {lot_id}
        cache_set(_LOTS_KEY, found, timeout=_LOTS_TIMEOUT)
    return found


def forget_gate_lots(**_kwargs) -> None:
    cache_delete(_LOTS_KEY)
    transaction.on_commit(lambda: cache_delete(_LOTS_KEY))  # and again once the change is visible to all


class ReservationGate:
    name = "reservations.bookings"

    def at_entry(self, entries: Sequence[release.EntryQuery]) -> None:
        lots = gate_lots()[SITES]
        entries = [e for e in entries if e.lot_id in lots]
        whens = [Q(lot_id=e.lot_id, plate=e.plate, arrive_from__lte=e.entry_at, arrive_until__gte=e.entry_at)
                 for e in entries]
        if not whens:
            return
        Reservation.objects.filter(reduce(or_, whens), state=Reservation.State.BOOKED).update(
            state=Reservation.State.ARRIVED,
            arrived_at=Case(*[When(q, then=Value(e.entry_at)) for q, e in zip(whens, entries, strict=True)]),
            session_id=Case(*[When(q, then=Value(e.session_id)) for q, e in zip(whens, entries, strict=True)]),
        )

    def at_close(self, closed: Sequence[release.ClosedStay]) -> None:
        """An arrived booking is completed when its stay closes (the car has left): one UPDATE,
        inside the batch's transaction, and none for a batch that closed no stay of a booked lot."""
        lots = gate_lots()[SITES]
        closed = [stay for stay in closed if stay.lot_id in lots]
        if not closed:
            return
        whens = [When(session_id=stay.session_id, then=Value(stay.closed_at)) for stay in closed]
        Reservation.objects.filter(session_id__in=[stay.session_id for stay in closed],
                                   state=Reservation.State.ARRIVED).update(
            state=Reservation.State.COMPLETED, closed_at=Case(*whens))

    def at_exit(self, exits: Sequence[release.ExitQuery]) -> dict[release.ExitQuery, release.Cover]:
        lots = gate_lots()[SITES]
        exits = [q for q in exits if q.lot_id in lots]
        if not exits:
            return {}
        rows = (Reservation.objects.filter(
            reduce(or_, [Q(lot_id=q.lot_id, plate=q.plate, arrived_at__lte=q.exit_at) for q in exits]),
            state=Reservation.State.ARRIVED)
            .order_by("arrived_at")
            .values_list("lot_id", "plate", "code", "arrived_at", "slot__berth_kind", "hospital__waives_fee",
                         "hospital__ev_free_minutes"))
        found: dict[tuple[int, str], release.Cover] = {}
        for lot_id, plate, code, arrived_at, kind, waives, ev_minutes in rows:
            if waives:
                found[(lot_id, plate)] = release.Cover(release.Reason.RESERVATION, release.WAIVE,
                                                       HOSPITAL_WAIVER_RULE, code)
            elif kind == BerthKind.EV and ev_minutes and (lot_id, plate) not in found:
                window = ((arrived_at, arrived_at + timedelta(minutes=ev_minutes)),)
                found[(lot_id, plate)] = release.Cover(release.Reason.RESERVATION, release.BILLED, EV_CHARGING_RULE,
                                                       code, free_windows=window)
        return {q: found[(q.lot_id, q.plate)] for q in exits if (q.lot_id, q.plate) in found}


class SharingGate:
    name = "reservations.sharing"

    def at_entry(self, entries: Sequence[release.EntryQuery]) -> None:
        return None

    def at_exit(self, exits: Sequence[release.ExitQuery]) -> dict[release.ExitQuery, release.Cover]:
        lots = gate_lots()[OFFERS]
        exits = [q for q in exits if q.lot_id in lots]
        if not exits:
            return {}
        rows = (SharingContract.objects.filter(
            reduce(or_, [Q(lot_id=q.lot_id, plate=q.plate, starts_at__lt=q.exit_at,
                           ends_at__gt=q.exit_at - SHARING_LOOKBACK) for q in exits]))
            .values_list("lot_id", "plate", "number", "starts_at", "ends_at", "ended_at", "offer__weekday_start",
                         "offer__weekday_end", "offer__weekend_start", "offer__weekend_end"))
        by_vehicle: dict[tuple[int, str], list] = {}
        for row in rows:
            by_vehicle.setdefault((row[0], row[1]), []).append(row)
        tz = timezone.get_default_timezone()
        covers = {}
        for query in exits:
            windows, numbers = [], []
            for _lot, _plate, number, starts, ends, ended, wd_start, wd_end, we_start, we_end in by_vehicle.get(
                    (query.lot_id, query.plate), ()):
                start = max(starts, query.exit_at - SHARING_LOOKBACK)
                end = min(query.exit_at, ends, ended or ends)
                if start < end:
                    found = list(offer_windows(weekday=(wd_start, wd_end), weekend=(we_start, we_end),
                                               start=start, end=end, tz=tz))
                    if found:
                        windows += found
                        numbers.append(number)
            if windows:
                covers[query] = release.Cover(release.Reason.SHARING_CONTRACT, release.BILLED, SHARING_RULE,
                                              ",".join(numbers), free_windows=tuple(sorted(windows)))
        return covers


def register() -> None:
    release.register_release_provider(ReservationGate())
    release.register_release_provider(SharingGate())
    for model in (BookingSite, SharingOffer):
        post_save.connect(forget_gate_lots, sender=model, dispatch_uid=f"forget-gate-lots-{model.__name__}")
        post_delete.connect(forget_gate_lots, sender=model, dispatch_uid=f"forget-gate-lots-del-{model.__name__}")
