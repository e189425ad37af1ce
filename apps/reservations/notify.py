"""Telling a citizen about their booking, through the platform's one notice port
(``apps.common.notices``, which the WeChat account fills): confirmed, a reminder before the arrival
window, a no-show and the suspension that follows, an approved sharing contract.

``tell`` is called inside the service's transaction: the notice is recorded with it and sent after
commit, so a rolled-back change tells nobody.
"""

from __future__ import annotations

from datetime import timedelta

from apps.common import notices
from apps.common.cache import cache_add

#: how long before the arrival window opens the citizen is reminded
REMINDER_LEAD = timedelta(hours=1)

#: the booking events and the notice each one is sent as
KINDS = {
    "reservation.confirmed": notices.RESERVATION_CONFIRMED,
    "reservation.reminder": notices.RESERVATION_REMINDER,
    "reservation.no_show": notices.RESERVATION_NO_SHOW,
    "booking.suspended": notices.RESERVATION_NO_SHOW,  # what the no-shows led to
    "sharing.approved": notices.RESERVATION_CONFIRMED,
}
MY_RESERVATIONS = "/me/#reservations"


def tell(event: str, user_id: int, data: dict) -> None:
    """Ask for the notice of ``event`` (a key of ``KINDS``) to the citizen ``user_id``."""
    notices.notify(kind=KINDS[event], user=user_id, data={"event": event, **data}, url=MY_RESERVATIONS)


def first_reminder(reservation_id: int) -> bool:
    """Whether no process reminded this booking yet (the shared cache decides, once for all)."""
    return cache_add(f"reservation-reminded:{reservation_id}", 1,
                     timeout=int(REMINDER_LEAD.total_seconds()) * 3) is not False
