"""What sessions hold about a plate, for its owner's export (``apps.common.privacy``): stays, the
events lot systems sent (the payload as received), arrears and the money ledger behind them.

Rows whose plate was already hashed (``apps.sessions.retention``) belong to the plate too and are
exported with it: they are found by the plate's hash."""

from __future__ import annotations

from .models import Arrears, IngestEvent, ParkingSession, SessionMoneyEntry
from .retention import plate_match_values


def export_sessions(plate: str) -> dict:
    values = plate_match_values(plate)
    stays = list(ParkingSession.objects.filter(plate__in=values).order_by("entry_at", "pk").values(
        "id", "lot__code", "lot__name", "berth__code", "plate_color", "vehicle_class", "entry_at", "exit_at",
        "closed_at", "state", "release_reason", "amount_fen", "paid_fen", "waived_fen", "due_fen"))
    events = list(IngestEvent.objects.filter(plate__in=values).order_by("occurred_at", "pk").values(
        "event_id", "type", "lot__code", "occurred_at", "received_at", "session_id", "payload"))
    arrears = list(Arrears.objects.filter(plate__in=values).order_by("created_at", "pk").values(
        "id", "session_id", "lot__code", "amount_fen", "paid_fen", "created_at", "paid_at"))
    ledger = list(SessionMoneyEntry.objects.filter(session__plate__in=values).order_by("created_at", "pk").values(
        "session_id", "arrears_id", "kind", "amount_fen", "reason", "reference", "created_at"))
    return {"sessions": stays, "events": events, "arrears": arrears, "money_entries": ledger}
