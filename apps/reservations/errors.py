"""The refusals of booking and sharing, each with its stable code (SPEC §8.3 and §1)."""

from apps.common.errors import DomainError


class ReservationError(DomainError):
    code = "invalid"


class UnknownSlot(ReservationError):
    code = "unknown_slot"
    status = 400


class PlateNotBound(ReservationError):
    code = "plate_not_bound"
    status = 403


class SlotFull(ReservationError):
    code = "slot_full"
    status = 409


class DuplicateReservation(ReservationError):
    code = "duplicate_reservation"
    status = 409


class BookingSuspended(ReservationError):
    code = "booking_suspended"
    status = 403


class BookingNotOpen(ReservationError):
    """The slot is past the site's booking window, or too close to (or past) its start."""

    code = "booking_closed"
    status = 409


class CancellationClosed(ReservationError):
    code = "cancellation_closed"
    status = 409


class UnknownOffer(ReservationError):
    code = "unknown_offer"
    status = 400


class OfferFull(ReservationError):
    code = "offer_full"
    status = 409


class DuplicateApplication(ReservationError):
    code = "duplicate_application"
    status = 409


class NotAllowed(ReservationError):
    code = "out_of_scope"
    status = 403


class StateConflict(ReservationError):
    code = "invalid_state"
    status = 409
