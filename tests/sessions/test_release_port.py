"""The release port (apps.sessions.release): what a provider registered by another app answers at
entry and at exit, and what becomes of what is due. The providers here are registered by the tests,
as payments and reservations will register theirs from their ``ready()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.lots.models import ParkingLot
from apps.sessions import release, selectors
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
from tests.factories_sessions import AFTERNOON, entry_event, exit_event

pytestmark = pytest.mark.django_db

NOW = AFTERNOON


def at(hour: int, minute: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


@dataclass
class BookProvider:
    """Answers from a table of its own, as a real provider does: one query per call, whatever the
    batch holds (here the lots table stands in for a bookings table)."""

    name: str
    covers: dict[str, release.Cover]  # plate → cover
    exit_calls: list[list[release.ExitQuery]] = field(default_factory=list)
    entry_calls: list[list[release.EntryQuery]] = field(default_factory=list)

    def at_entry(self, entries):
        self.entry_calls.append(list(entries))

    def at_exit(self, exits):
        self.exit_calls.append(list(exits))
        known = set(ParkingLot.objects.filter(pk__in={q.lot_id for q in exits}).values_list("pk", flat=True))
        return {q: self.covers[q.plate] for q in exits if q.plate in self.covers and q.lot_id in known}


@pytest.fixture
def register():
    names = []

    def add(provider):
        release.register_release_provider(provider)
        names.append(provider.name)
        return provider
    yield add
    for name in names:
        release.unregister_release_provider(name)


def _exit(record, lot, plate, *, entry=(10, 0), leave=(11, 30)):
    record(entry_event(lot, plate, at=at(*entry)))
    return record(exit_event(lot, plate, at=at(*leave)))["results"][0]["session"]


def test_a_reservation_that_waives_releases_as_reservation_with_a_waiver_row(register, record, lot):
    register(BookProvider("reservations", {"苏B12345": release.Cover("reservation", "waive", "hospital_visit_free",
                                                                      "RX20260317-0001")}))
    session = _exit(record, lot, "苏B12345")
    assert (session["release"], session["release_reason"], session["amount_fen"], session["due_fen"]) == (
        True, "reservation", 1000, 0)
    stored = ParkingSession.objects.get()
    assert (stored.state, stored.waived_fen, stored.paid_fen) == ("closed", 1000, 0)
    waiver = SessionMoneyEntry.objects.get()
    assert (waiver.kind, waiver.amount_fen, waiver.reason, waiver.reference) == (
        "waiver", 1000, "hospital_visit_free", "RX20260317-0001")
    assert not Arrears.objects.exists()
    assert selectors.balances_from_ledger(stored.pk)["waived_fen"] == stored.waived_fen
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 50


def test_a_reservation_that_defers_leaves_arrears(register, record, lot):
    register(BookProvider("reservations", {"苏B12345": release.Cover("reservation", "arrears", "booked_not_free")}))
    session = _exit(record, lot, "苏B12345")
    assert (session["release"], session["release_reason"], session["due_fen"]) == (True, "reservation", 1000)
    arrears = Arrears.objects.get()
    assert (arrears.amount_fen, arrears.session_id) == (1000, session["session_id"])
    entry = SessionMoneyEntry.objects.get()
    assert (entry.kind, entry.arrears_id, entry.reason) == ("arrears", arrears.pk, "booked_not_free")


def test_a_sharing_contract_releases_as_sharing_contract(register, record, lot):
    register(BookProvider("reservations", {"苏B12345": release.Cover("sharing_contract", "waive", "monthly_contract",
                                                                      "SC-7")}))
    session = _exit(record, lot, "苏B12345")
    assert (session["release_reason"], session["due_fen"]) == ("sharing_contract", 0)
    assert SessionMoneyEntry.objects.get().reference == "SC-7"


def test_a_payment_agreement_releases_pay_later_with_arrears(register, record, lot):
    register(BookProvider("payments", {"苏B12345": release.Cover("pay_later", "arrears", "payment_agreement",
                                                                  "AG-1")}))
    session = _exit(record, lot, "苏B12345")
    assert (session["release"], session["release_reason"], session["due_fen"]) == (True, "pay_later", 1000)
    assert Arrears.objects.get().amount_fen == 1000
    entry = SessionMoneyEntry.objects.get()
    assert (entry.kind, entry.reason, entry.reference) == ("arrears", "payment_agreement", "AG-1")


def test_a_reservation_outranks_a_payment_agreement(register, record, lot):
    register(BookProvider("payments", {"苏B12345": release.Cover("pay_later", "arrears", "payment_agreement")}))
    register(BookProvider("reservations", {"苏B12345": release.Cover("reservation", "waive", "hospital_visit_free")}))
    assert _exit(record, lot, "苏B12345")["release_reason"] == "reservation"
    assert not Arrears.objects.exists()


def test_a_covered_stay_with_nothing_due_writes_no_ledger_row(register, record, lot):
    register(BookProvider("reservations", {"苏B12345": release.Cover("reservation", "waive", "hospital_visit_free")}))
    session = _exit(record, lot, "苏B12345", leave=(10, 20))  # inside the free half hour
    assert session["release_reason"] == "free"
    assert not SessionMoneyEntry.objects.exists()


def test_providers_are_asked_once_a_batch_with_one_query_each(register, record, lot):
    plates = [f"苏B2{i:04d}" for i in range(30)]
    covers = {p: release.Cover("reservation", "waive", "hospital_visit_free") for p in plates[::3]}
    record(*[entry_event(lot, p, at=at(10)) for p in plates])
    exits = [exit_event(lot, p, at=at(11, 30)) for p in plates]

    with CaptureQueriesContext(connection) as plain:
        record(*exits[:15])
    first = register(BookProvider("reservations", covers))
    second = register(BookProvider("payments", {}))
    with CaptureQueriesContext(connection) as asked:
        body = record(*exits[15:])
    assert len(first.exit_calls) == len(second.exit_calls) == 1
    assert len(first.exit_calls[0]) == 15
    # One query each provider, and one to write the batch's waiver rows (on PostgreSQL they go with
    # the batch's other writes, in the same round trip).
    waivers = 0 if connection.vendor == "postgresql" else 1
    assert len(asked.captured_queries) == len(plain.captured_queries) + 2 + waivers
    reasons = [r["session"]["release_reason"] for r in body["results"]]
    assert reasons == ["reservation" if p in covers else "unpaid" for p in plates[15:]]


def test_providers_are_told_of_the_entries_a_batch_opened(register, record, lot):
    provider = register(BookProvider("reservations", {}))
    record(entry_event(lot, "苏B12345", at=at(10)), entry_event(lot, "苏B54321", at=at(10, 5)),
           entry_event(lot, None, at=at(10, 6), ticket_id="T-1"))
    assert len(provider.entry_calls) == 1
    told = provider.entry_calls[0]
    sessions = {s.plate: s.pk for s in ParkingSession.objects.exclude(plate=None)}
    assert sorted((q.plate, q.session_id, q.entry_at) for q in told) == sorted(
        [("苏B12345", sessions["苏B12345"], at(10)), ("苏B54321", sessions["苏B54321"], at(10, 5))])
    record(exit_event(lot, "苏B12345", at=at(10, 20)))
    assert len(provider.entry_calls) == 1  # a batch without entries tells nobody
