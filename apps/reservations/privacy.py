"""Bookings and sharing that name a plate, for the plate owner's export (``apps.common.privacy``).

The booker may be someone other than the plate's owner: who booked (the user) and an applicant's
address stay out; what was booked for the plate, where and when, is in."""

from __future__ import annotations

from .models import Reservation, SharingApplication, SharingContract


def export_bookings(plate: str) -> dict:
    return {
        "reservations": list(Reservation.objects.filter(plate=plate).order_by("created_at", "pk").values(
            "code", "hospital__name", "lot__code", "day", "state", "arrive_from", "arrive_until", "created_at",
            "arrived_at", "closed_at")),
        "sharing_applications": list(SharingApplication.objects.filter(plate=plate).order_by("created_at", "pk")
                                     .values("offer__title", "offer__lot__code", "state", "created_at",
                                             "decided_at")),
        "sharing_contracts": list(SharingContract.objects.filter(plate=plate).order_by("starts_at", "pk").values(
            "number", "offer__title", "lot__code", "state", "starts_at", "ends_at", "ended_at")),
    }
