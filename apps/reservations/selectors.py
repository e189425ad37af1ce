"""Reads of booking and sharing that the API, the pages and the staff views share."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Sum
from django.utils import timezone

from .models import BerthKind, BookingSite, Reservation, SharingApplication, SharingContract, SharingOffer, Slot

MAX_WINDOW_DAYS = 60


def bookable_sites(*, now: datetime, kind: str = BookingSite.Kind.HOSPITAL) -> list[BookingSite]:
    """Active sites of ``kind`` with their slots still open for booking (inside each site's booking
    window, before its cut-off), as ``site.bookable``: two queries."""
    today = timezone.localtime(now).date()
    horizon = now + timedelta(days=MAX_WINDOW_DAYS + 1)
    sites = list(BookingSite.objects.filter(active=True, kind=kind).select_related("lot").prefetch_related(
        Prefetch("slots", queryset=Slot.objects.filter(starts_at__gt=now, starts_at__lt=horizon)
                 .order_by("starts_at", "pk"), to_attr="upcoming")))
    for site in sites:
        last_day = today + timedelta(days=site.booking_window_days)
        cutoff = now + timedelta(minutes=site.booking_cutoff_minutes)
        site.bookable = [s for s in site.upcoming
                         if s.starts_at > cutoff and timezone.localtime(s.starts_at).date() <= last_day]
    return sites


def reservations_of(user) -> list[Reservation]:
    return list(Reservation.objects.filter(user=user).select_related("slot", "hospital", "lot")
                .order_by("-slot__starts_at", "-pk")[:100])


def public_offers() -> list[SharingOffer]:
    return list(SharingOffer.objects.filter(active=True).select_related("lot").order_by("lot__code", "pk"))


def sharing_of(user) -> dict[str, list]:
    return {
        "applications": list(SharingApplication.objects.filter(user=user).select_related("offer__lot")
                             .order_by("-created_at", "-pk")[:100]),
        "contracts": list(SharingContract.objects.filter(user=user).select_related("offer", "lot")
                          .order_by("-starts_at", "-pk")[:100]),
    }


# ---------------------------------------------------------------------------------------------------
# Staff views (issue 9 item 8): both scoped by ``for_user``.

def hospital_daily_stats(*, user, start: datetime, end: datetime) -> list[dict]:
    """Per site in the user's scope and local day of the slot: places offered, booked (active or
    done), arrivals, no-shows and cancellations."""
    slots = (Slot.objects.for_user(user).filter(starts_at__gte=start, starts_at__lt=end)
             .values_list("hospital_id", "starts_at", "quota"))
    offered: dict[tuple[int, object], int] = defaultdict(int)
    for hospital_id, starts_at, quota in slots:
        offered[(hospital_id, timezone.localtime(starts_at).date())] += quota
    rows = (Reservation.objects.for_user(user).filter(slot__starts_at__gte=start, slot__starts_at__lt=end)
            .values("hospital_id", "hospital__name", "day")
            .annotate(booked=Count("pk", filter=Q(state__in=["booked", "arrived", "completed"])),
                      arrived=Count("pk", filter=Q(state__in=["arrived", "completed"])),
                      no_show=Count("pk", filter=Q(state="no_show")),
                      cancelled=Count("pk", filter=Q(state="cancelled")))
            .order_by("hospital__name", "day"))
    names = dict(BookingSite.objects.for_user(user).values_list("pk", "name"))
    stats = {(r["hospital_id"], r["day"]): r for r in rows}
    out = []
    for key in sorted(set(offered) | set(stats), key=lambda k: (names.get(k[0], ""), k[1])):
        row = stats.get(key, {})
        out.append({"hospital_id": key[0], "hospital": names.get(key[0], ""), "day": key[1].isoformat(),
                    "places": offered.get(key, 0), "booked": row.get("booked", 0), "arrived": row.get("arrived", 0),
                    "no_show": row.get("no_show", 0), "cancelled": row.get("cancelled", 0)})
    return out


def sharing_lot_stats(*, user, now: datetime) -> list[dict]:
    """Per lot in the user's scope: its contracts (active and all), revenue from them, and their
    stays' use inside and outside the windows (a stay released ``sharing_contract`` was inside)."""
    from apps.sessions.models import ParkingSession

    contracts = list(SharingContract.objects.for_user(user).values_list(
        "lot_id", "lot__code", "lot__name", "plate", "state", "monthly_price_fen", "months", "starts_at",
        "ends_at", "ended_at"))
    by_lot: dict[int, dict] = {}
    q = Q(pk__in=[])
    for lot_id, code, name, plate, state, price, months, starts, ends, ended in contracts:
        row = by_lot.setdefault(lot_id, {"lot_code": code, "lot": name, "contracts": 0, "active": 0,
                                         "revenue_fen": 0, "stays_inside": 0, "stays_outside": 0,
                                         "billed_fen": 0})
        row["contracts"] += 1
        row["active"] += state == SharingContract.State.ACTIVE
        row["revenue_fen"] += price * months
        q |= Q(lot_id=lot_id, plate=plate, entry_at__gte=starts, entry_at__lt=min(ends, ended or ends, now))
    if by_lot:
        inside = Q(release_reason="sharing_contract")
        stays = (ParkingSession.objects.filter(q, closed_at__isnull=False).values("lot_id")
                 .annotate(inside=Count("pk", filter=inside), outside=Count("pk", filter=~inside),
                           billed=Sum("amount_fen", filter=~inside)))
        for stay in stays:
            row = by_lot[stay["lot_id"]]
            row["stays_inside"], row["stays_outside"], row["billed_fen"] = (
                stay["inside"], stay["outside"], stay["billed"] or 0)
    return sorted(by_lot.values(), key=lambda r: r["lot_code"])


def lot_booking_rules(lot) -> list[str]:
    """The answer to the lots app's booking-rules port (``apps.lots.bookings``): what the map's card
    of ``lot`` tells about booking there, from its open sites' rules: a booked EV charging berth's
    free minutes (充停一体化), a booked visit's free parking. A lot without sites costs no query."""
    from django.utils.translation import gettext as _

    from .gate import SITES, gate_lots

    if lot.pk not in gate_lots()[SITES]:
        return []
    now = timezone.now()
    rules = []
    sites = BookingSite.objects.filter(lot=lot, active=True).annotate(
        ev_slots=Exists(Slot.objects.filter(hospital=OuterRef("pk"), berth_kind=BerthKind.EV, ends_at__gt=now)))
    for site in sites.order_by("pk"):
        if site.ev_free_minutes and site.ev_slots:
            rule = _("可预约充电泊位：到达后 %(minutes)s 分钟内停车免费（充停一体化），可提前 %(days)s 天预约")
            rules.append(rule % {"minutes": site.ev_free_minutes, "days": site.booking_window_days})
        if site.waives_fee:
            rules.append(_("%(site)s：预约后按时到达，停车免费") % {"site": site.name})
    return rules
