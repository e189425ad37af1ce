"""Recording what lot systems send (SPEC §3.2, §3.3): one batch, one transaction, bounded queries.

``events_record`` is the whole main path of DESIGN.md step 3. What it does with a batch:

1. Each event is checked on its own (``events.parse_event``); a bad one becomes a rejected RESULT
   and nothing of it is stored.
2. The batch's lots must be lots the key was issued for; an unknown lot code is refused the same
   way (``lot_not_allowed``): a key can't have been issued for a lot that does not exist. Berth
   codes must exist in their lot.
3. The events are inserted in one statement that the unique (lot, event_id) constraint filters;
   the rows it returns (PostgreSQL) or reading them back (elsewhere) tell this request's rows from
   rows stored before (duplicates). The database decides, so two requests racing with the same
   event store it once. The release port (``release``) is asked about the batch's exits.
4. The new events are applied in memory, in the order they happened (then in batch order), to the
   sessions they may continue and the berths they name, read with their row versions: sessions
   open and close, stays are priced, snapshots are noted. Nothing is written yet, but the writes
   are built, with keys allocated for the new sessions and arrears records (PostgreSQL).
5. Only now are the batch's lots locked (ordered by id, so two batches never deadlock), then the
   sessions the batch may change (by id), in one round trip that also reads their versions: steps
   1–4 read nothing the lock protects, and every batch sharing a lot waits for the lock until this
   one commits. If the sessions that match are not the ones step 4 read, at the versions it read (a
   batch sharing a lot, or a payment, changed them meanwhile), or a berth changed, step 4 is done
   again under the lock. Berth readings are debounced and written.
6. One round trip writes the rest (``apps.common.statements``): sessions, their arrears and ledger
   rows, the events' links; then one statement moves every touched lot's count and records the
   heartbeat, deciding the snapshot rule against the lots' live columns as the lock holds them
   (``apps.lots.occupancy.lots_count``); last the device's heartbeat. Ingest never writes
   ``paid_fen``: payments own it. Lots that were offline close their outage. After commit the
   changed lots are handed to ``realtime.publish``. (On SQLite, which has no row locks, step 4
   simply runs inside the writing transaction and the writes go one statement at a time.)

Late and out-of-order events (all within one lot and one plate, or ticket for unplated vehicles):

- an entry for a plate with an open session closes the old one as ``superseded`` (the car left
  unseen and came back: the count does not move);
- an entry older than the open session's entry is an earlier visit that ended unseen: it is kept
  as a ``superseded`` session and changes nothing else;
- an exit with no known entry is released as ``review`` (nothing charged); if its entry arrives
  later, the entry completes that session, which stays in review for staff;
- an exit whose stay cannot be priced is released too, nothing charged, and the session is left in
  state ``review`` for staff (``apps.lots.selectors.fee_for_stay`` refuses it: the tariff has no
  rules for the vehicle's class, the stay is longer than ``MAX_PRICED_STAY`` or its amount past
  ``MAX_AMOUNT_FEN``). Its ``release_reason`` is ``review`` although the entry is known: SPEC §3.2
  defines ``review`` for an unknown entry, but of its reasons only ``review`` says "released,
  nothing charged by guess, flagged for staff", which is what happens; the barrier is not kept shut
  over a problem in our own data. The session's known ``entry_at`` tells the two cases apart;
- an exit older than the open session's entry belongs to an earlier visit: kept as ``review``,
  the open session is untouched;
- an exit of a session waiting for payment (``unpaid``) uses the amount fixed at the first exit:
  once paid it is released as ``paid``; an entry of that plate after it means the car left anyway,
  so the session closes and what it owes becomes arrears.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.berths import services as berth_services
from apps.berths.models import Berth
from apps.common.db import row_version
from apps.common.errors import DomainError
from apps.common.statements import query_statement, run_statements
from apps.lots import occupancy
from apps.lots import selectors as lot_selectors
from apps.lots.connectivity import lots_back_online
from apps.lots.models import Device, ParkingLot, Tariff, TariffVersion, rules_digest
from apps.realtime.publish import publish_lots_after_commit

from . import money, release, selectors
from .bulk import (
    allocate_keys,
    insert_new_rows,
    prepared_insert_objects,
    prepared_update_rows,
    prepared_update_values,
    update_rows,
    update_values,
)
from .errors import (
    ArrearsNotFound,
    InvalidAmount,
    LotNotAllowed,
    PaymentExceedsArrears,
    RefundExceedsPaid,
    SessionNotFound,
    UnknownBerth,
)
from .events import BERTH_TYPES, SESSION_TYPES, Event, event_id_of, parse_event, vehicle_keys
from .models import Arrears, EventType, IngestEvent, ParkingSession, SessionMoneyEntry, VehicleClass

logger = logging.getLogger(__name__)

State = ParkingSession.State
Reason = ParkingSession.ReleaseReason

# An ingest row as ``claim`` inserts it (by attname).
_EVENT_FIELDS = ["lot_id", "event_id", "type", "occurred_at", "received_at", "device_id", "batch", "plate", "payload"]
# What ingest writes back to a session it changed. Never ``paid_fen``: payments own it (and the
# sessions a batch changes are read under their row lock, so ``due_fen`` is decided from the paid
# amount in force).
_SESSION_FIELDS = ["berth", "vehicle_class", "new_energy", "entry_at", "exit_at", "closed_at", "amount_fen",
                   "waived_fen", "due_fen", "state", "release_reason", "entry_event_id", "exit_event_id",
                   "tariff", "tariff_version", "updated_at"]
Kind = SessionMoneyEntry.Kind

# The lot columns a batch reads (``allowed_lots``). A district batch names a hundred lots: building
# them with every column, and each lot's tariff and version again by a join, was a fifth of the
# server's time. A column read beyond these costs a query per lot: add it here.
_LOT_FIELDS = ("id", "code", "region_id", "operator_id", "kind", "total_berths", "status", "tariff_id",
               "allow_pay_later", "grace_minutes")


def _lots_with_tariffs(codes: list[str]) -> list[ParkingLot]:
    """The lots of ``codes``, each with its tariff (the rules, and the digest of its current
    version); lots that share a tariff share one object, read once."""
    lots = list(ParkingLot.objects.only(*_LOT_FIELDS).filter(code__in=codes))
    tariff_ids = {lot.tariff_id for lot in lots if lot.tariff_id is not None}
    tariffs = ({t.pk: t for t in Tariff.objects.select_related("version")
                .only("rules", "version_id", "version__digest").filter(pk__in=tariff_ids)}
               if tariff_ids else {})
    for lot in lots:
        lot.tariff = tariffs.get(lot.tariff_id)
    return lots


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value is not None else None


def session_data(session: ParkingSession) -> dict:
    """The ``session`` object of an exit's RESULT (SPEC §3.2)."""
    return {
        "session_id": session.pk,
        "entry_at": _iso(session.entry_at),
        "exit_at": _iso(session.exit_at),
        "amount_fen": session.amount_fen,
        "paid_fen": session.paid_fen,
        "due_fen": session.due_fen,
        "release": session.released,
        "release_reason": session.release_reason or None,
    }


@dataclass
class BatchOutcome:
    results: list[dict]

    def as_dict(self) -> dict:
        counts = defaultdict(int)
        for result in self.results:
            counts[result["status"]] += 1
        return {"accepted": counts["accepted"], "duplicates": counts["duplicate"], "rejected": counts["rejected"],
                "results": self.results}


def _rejected(raw: object, error: DomainError) -> dict:
    return {"event_id": event_id_of(raw), "status": "rejected", "error": error.as_dict()}


def events_record(*, device: Device, events: list, now: datetime | None = None) -> BatchOutcome:
    """Record a batch from ``device`` (already authenticated). Every event gets a RESULT, in order:
    accepted, duplicate (stored before: changes nothing, an exit answers with its session) or
    rejected (nothing of it stored). One bad event never rejects the others."""
    now = now or timezone.now()
    results: list[dict | None] = [None] * len(events)
    parsed: list[Event] = []
    for index, raw in enumerate(events):
        try:
            parsed.append(parse_event(raw, index=index, now=now, max_future_s=settings.INGEST_MAX_FUTURE_S))
        except DomainError as exc:
            results[index] = _rejected(raw, exc)
    recorder = _Recorder(device=device, now=now, results=results, raw=events)
    with transaction.atomic():
        recorder.run(parsed)
    recorder.respond()  # after the commit: answering reads nothing the lots' lock protects
    return BatchOutcome(results)  # type: ignore[arg-type]  # every slot is filled by now


class _Recorder:
    """One batch. The lot rows are locked as late as correctness allows: the checks, the idempotent
    insert of the events and the release port's questions come first, without the lock (none of them
    reads what the lock protects); from the lock on (lots by id, then the sessions the batch may
    change, by id) come only what must see the lots' and sessions' current state, and the commit."""

    def __init__(self, *, device: Device, now: datetime, results: list, raw: list):
        self.device = device
        self.now = now
        self.results = results
        self.raw = raw
        self.lots: dict[str, ParkingLot] = {}
        # One object per berth row in a batch, so every reading of a berth lands on the same object.
        self.berths: dict[int, Berth] = {}

    def reject(self, event: Event, error: DomainError) -> None:
        self.results[event.index] = _rejected(self.raw[event.index], error)

    # -- checks against the database ---------------------------------------------------------
    def allowed_lots(self, events: list[Event]) -> list[Event]:
        """The events of lots the key was issued for (read without a lock: the registry fields used
        here are staff's, and the live ones are read again under the lock)."""
        codes = sorted({e.lot_code for e in events})
        if codes:
            self.lots = {lot.code: lot for lot in _lots_with_tariffs(codes)}
        allowed_ids = getattr(self.device, "lot_ids", None)
        if allowed_ids is None:
            allowed_ids = frozenset(self.device.lots.values_list("pk", flat=True))
        allowed = []
        for event in events:
            lot = self.lots.get(event.lot_code)
            if lot is None or lot.pk not in allowed_ids:
                self.reject(event, LotNotAllowed(
                    _("该接入密钥无权上报停车场 %(code)s") % {"code": event.lot_code},
                    field="lot_code", details={"lot_code": event.lot_code}))
            else:
                event.lot = lot
                allowed.append(event)
        return allowed

    def known_berths(self, events: list[Event]) -> list[Event]:
        """Refuse events naming a berth their lot does not have. Only ids are read here; the berths'
        state is read under the lot lock (``load_berths``)."""
        wanted = [e for e in events if e.berth_code]
        self.berth_ids: dict[int, int] = {}  # batch index → berth id
        if wanted:
            found = {(lot_id, code): pk for pk, lot_id, code in Berth.objects.filter(
                lot_id__in={e.lot.pk for e in wanted}, code__in={e.berth_code for e in wanted},
            ).values_list("pk", "lot_id", "code")}
            for event in wanted:
                pk = found.get((event.lot.pk, event.berth_code))
                if pk is None:
                    message = _("停车场 %(lot)s 没有编号为 %(berth)s 的泊位") % {
                        "lot": event.lot_code, "berth": event.berth_code}
                    self.reject(event, UnknownBerth(message, field="berth_code",
                                                    details={"berth_code": event.berth_code}))
                else:
                    self.berth_ids[event.index] = pk
        return [e for e in events if self.results[e.index] is None]

    def load_berths(self, events: list[Event], also: set[int], *, versions: bool = False) -> None:
        """The named berths' rows (and ``also``: the berths of the stays the batch continues), read
        under their lots' lock (ingest and the berth sweep write them only under it), or before it
        with their row versions (``versions``) for ``lock_and_check`` to check once it is held."""
        ids = {self.berth_ids[e.index] for e in events if e.index in self.berth_ids} | also
        ids -= self.berths.keys()
        if ids:
            found = Berth.objects.filter(pk__in=ids)
            if versions:
                found = found.annotate(row_version=row_version(Berth))
            self.berths.update({b.pk: b for b in found})
        for event in events:
            if event.index in self.berth_ids:
                event.berth = self.berths[self.berth_ids[event.index]]

    # -- idempotency ---------------------------------------------------------------------------
    def claim(self, events: list[Event]):
        """Insert the events; the unique constraint keeps only the first delivery of each.

        Returns (new events with their row ids, repeats within the batch as (event, first),
        events stored by an earlier request with their session ids).
        """
        first: dict[tuple[int, str], Event] = {}
        repeats: list[tuple[Event, Event]] = []
        for event in events:
            key = (event.lot.pk, event.event_id)
            if key in first:
                repeats.append((event, first[key]))
            else:
                first[key] = event
        if not first:
            return [], repeats, []
        token = uuid.uuid4()
        # In key order: this insert runs before the lot lock, and two batches inserting the same
        # events must take their rows' locks in one order, or they could wait for each other.
        rows = [(e.lot.pk, e.event_id, e.type, e.occurred_at, self.now, self.device.pk, token, e.plate, e.payload)
                for _key, e in sorted(first.items(), key=lambda item: item[0])]
        if connection.vendor == "postgresql":
            new, earlier = self._insert_returning(first, rows)
        else:
            new, earlier = self._insert_then_read(first, rows, token)
        return new, repeats, earlier

    @staticmethod
    def _insert_returning(first: dict[tuple[int, str], Event], rows: list[tuple]):
        """PostgreSQL: the insert itself names the rows it stored; only the others are read back,
        for the session an earlier delivery is linked to."""
        stored = insert_new_rows(IngestEvent, _EVENT_FIELDS, rows, unique=["lot", "event_id"],
                                 returning=["id", "lot", "event_id"])
        new = [(first[(lot_id, event_id)], pk) for pk, lot_id, event_id in stored]
        missing = first.keys() - {(lot_id, event_id) for _pk, lot_id, event_id in stored}
        earlier: list[tuple[Event, int | None]] = []
        if missing:
            for lot_id, event_id, session_id in IngestEvent.objects.filter(
                    lot_id__in={k[0] for k in missing}, event_id__in={k[1] for k in missing},
            ).values_list("lot_id", "event_id", "session_id"):
                if (lot_id, event_id) in missing:
                    earlier.append((first[(lot_id, event_id)], session_id))
        return new, earlier

    @staticmethod
    def _insert_then_read(first: dict[tuple[int, str], Event], rows: list[tuple], token: uuid.UUID):
        """Elsewhere (SQLite): insert what the constraint lets through, then read every row back;
        the request's own ``batch`` token tells its new rows from those stored before."""
        IngestEvent.objects.bulk_create(
            [IngestEvent(**dict(zip(_EVENT_FIELDS, row, strict=True))) for row in rows], ignore_conflicts=True)
        stored = IngestEvent.objects.filter(
            lot_id__in={k[0] for k in first}, event_id__in={k[1] for k in first},
        ).values_list("pk", "lot_id", "event_id", "batch", "session_id")
        new: list[tuple[Event, int]] = []
        earlier: list[tuple[Event, int | None]] = []
        for pk, lot_id, event_id, batch, session_id in stored:
            event = first.get((lot_id, event_id))
            if event is None:
                continue
            if batch == token:
                new.append((event, pk))
            else:
                earlier.append((event, session_id))
        return new, earlier

    # -- the batch -----------------------------------------------------------------------------
    def run(self, parsed: list[Event]) -> None:
        valid = self.known_berths(self.allowed_lots(parsed))
        heard = {e.lot.pk: e.lot for e in parsed if e.lot is not None}
        new, repeats, earlier = self.claim(valid)
        new.sort(key=lambda item: (item[0].occurred_at, item[0].index))
        events = [event for event, _ in new]
        row_ids = {event.index: pk for event, pk in new}
        covers = release.covers_at_exit([release.ExitQuery(e.lot.pk, e.plate, e.occurred_at)
                                         for e in events if e.type == EventType.EXIT and e.plate])
        counted_by_berths = {pk for pk, lot in heard.items() if lot.kind == ParkingLot.Kind.ON_STREET}

        if heard and connection.vendor == "postgresql":
            # Worked out before the lots' lock, from the sessions and berths as they are now; once the
            # lock is held (every batch of these lots waits for it until this one commits) the work
            # stands only if those rows are still the versions it read, or it is done again under the
            # lock. Batches sharing lots then wait for each other's writes, not their reckoning.
            work = self.work_out(events, counted_by_berths, covers, row_ids, locked=False)
            if not self.lock_and_check(heard, work):
                self.berths = {}
                work = self.work_out(events, counted_by_berths, covers, row_ids, locked=True)
        else:
            # No lot heard (nothing to lock), or SQLite: its writing transaction has the whole
            # database to itself, so the reckoning simply runs inside it.
            work = self.work_out(events, counted_by_berths, covers, row_ids, locked=True)
        book = work.book

        moves = book.moves
        for lot_id, changes in self.apply_readings(work.readings + book.readings, counted_by_berths).items():
            moves[lot_id].extend(changes)
        changed, back_online = self.write(book, moves=moves, snapshots=work.snapshots, heard=heard)
        book.tell_release_port()
        lots_back_online(lot_ids=back_online, now=self.now)
        publish_lots_after_commit(sorted(set(changed) | set(back_online)))

        self.answer = (events, repeats, earlier, book)

    def write(self, book: _SessionBook, *, moves: dict, snapshots: dict, heard: dict[int, ParkingLot]):
        """The batch's writes, once its lots are locked: its sessions, their ledger rows and the events'
        links to them, then one statement that moves the lots' counts (the newest snapshot and the
        moves after it, decided against the lots' live columns as the lock holds them), and last the
        device's heartbeat (it holds the device row to the commit). On PostgreSQL they are one round
        trip. Returns the ids of the lots whose count changed and of those back online."""
        if connection.vendor != "postgresql":
            book.save()
            counted = occupancy.lots_count(moves=moves, snapshots=snapshots, heard_ids=heard, now=self.now)
            occupancy.device_heard(device_id=self.device.pk, now=self.now)
            return counted
        count = occupancy.lots_count_statement(moves=moves, snapshots=snapshots, heard_ids=heard, now=self.now)
        results = run_statements([*book.writes, count,
                                  occupancy.device_heard_statement(device_id=self.device.pk, now=self.now)])
        return results[-2] if count is not None else ([], [])

    def work_out(self, events: list[Event], counted_by_berths: set[int], covers: dict, row_ids: dict[int, int], *,
                 locked: bool) -> _Work:
        """The batch's new events applied in memory to the sessions they continue and the berths
        they name: nothing is written, but the writes are built (``row_ids``: the new events' rows).
        ``locked``: the lots' lock is held, and the rows are read under it (the sessions row-locked
        too); otherwise with their row versions."""
        book = _SessionBook(now=self.now, counted_by_berths=counted_by_berths, berths=self.berths, covers=covers)
        stays = [e for e in events if e.type in SESSION_TYPES]
        found = book.find(stays, lock=locked, versions=not locked)
        self.load_berths(events, {s.berth_id for s in found if s.berth_id is not None}, versions=not locked)
        book.prepare(found, stays)
        readings: list[berth_services.Reading] = []
        snapshots: dict[int, occupancy.Snapshot] = {}
        for event in events:
            if event.type == EventType.ENTRY:
                book.entry(event)
            elif event.type == EventType.EXIT:
                book.exit(event)
            elif event.type in BERTH_TYPES:
                state = Berth.State.OCCUPIED if event.type == EventType.BERTH_OCCUPIED else Berth.State.VACANT
                readings.append(berth_services.Reading(event.berth, state, event.occurred_at))
            elif event.type == EventType.LOT_STATUS:
                snapshots[event.lot.pk] = occupancy.Snapshot(event.occurred_at, event.free_berths)
        book.prepare_writes(row_ids)
        return _Work(book, readings, snapshots, stays,
                     sessions=sorted((s.pk, s.row_version) for s in found) if not locked else [],
                     berths=sorted((b.pk, b.row_version) for b in self.berths.values()) if not locked else [])

    def lock_and_check(self, heard: dict[int, ParkingLot], work: _Work) -> bool:
        """PostgreSQL, in one round trip: lock the batch's lots (by id, so two batches never deadlock;
        their live columns are read when their counts are written, ``occupancy.lots_count``), then
        tell whether the sessions ``work`` read are the ones that match now, at the versions it read
        (row-locking them, in id order, as the read under the lock would), and its berths the
        versions it read. (Berths are written only under their lot's lock; sessions also by payments,
        which row-lock them.)"""
        # NO KEY: rows that only point at a lot (another batch's events, by foreign key) need not wait.
        lock = query_statement(ParkingLot.objects.select_for_update(no_key=True).filter(pk__in=list(heard))
                               .order_by("pk").values_list("pk", flat=True))
        matching = work.book.versions_query(work.stays)
        sessions = query_statement(matching) if matching is not None else None
        berths = (query_statement(Berth.objects.filter(pk__in=[pk for pk, _v in work.berths])
                                  .annotate(row_version=row_version(Berth)).order_by("pk")
                                  .values_list("pk", "row_version"))
                  if work.berths else None)
        _locked, *found = run_statements([lock, sessions, berths])
        now_sessions = found.pop(0) if sessions is not None else []
        now_berths = found.pop(0) if berths is not None else []
        return now_sessions == work.sessions and now_berths == work.berths

    def apply_readings(self, readings: list, counted_by_berths: set[int]) -> dict[int, list]:
        """Debounced berth readings, plus any older pending change in the same sensor lots that
        has now held long enough (so busy lots don't wait for the periodic sweep)."""
        if not readings:
            return {}
        applied = berth_services.readings_apply(readings, counted_lot_ids=counted_by_berths)
        in_memory = {r.berth.pk: r.berth for r in readings}
        sensor_lots = {r.berth.lot_id for r in readings if not r.confirmed}
        others = berth_services.pending_due(now=self.now).filter(lot_id__in=sensor_lots).exclude(pk__in=in_memory)
        settled = berth_services.settle_due([*in_memory.values(), *others], now=self.now,
                                            counted_lot_ids=counted_by_berths)
        berth_services.berths_save({b.pk: b for b in [*applied.changed, *settled.changed]}.values())
        moves = defaultdict(list, applied.moves)
        for lot_id, changes in settled.moves.items():
            moves[lot_id].extend(changes)
        return moves

    def respond(self) -> None:
        """Every event's RESULT, from what ``run`` did (new events' sessions as it left them; those
        stored by an earlier request with their sessions as they are now)."""
        events, repeats, earlier, book = self.answer
        for event in events:
            self.results[event.index] = self.result(event, "accepted", book.links.get(event.index))
        stored = selectors.sessions_by_ids({sid for e, sid in earlier if sid is not None and e.type == EventType.EXIT})
        sessions = {e.index: stored.get(sid) for e, sid in earlier}
        for event, _sid in earlier:
            self.results[event.index] = self.result(event, "duplicate", sessions[event.index])
        for event, original in repeats:
            session = book.links.get(original.index) or sessions.get(original.index)
            self.results[event.index] = self.result(event, "duplicate", session)

    @staticmethod
    def result(event: Event, status: str, session: ParkingSession | None) -> dict:
        result = {"event_id": event.event_id, "status": status}
        if event.type == EventType.EXIT:
            result["session"] = session_data(session) if session is not None else None
        return result


@dataclass
class _Work:
    """A batch worked out in memory (``_Recorder.work_out``), and the row versions it was worked
    out from when it was read before the lots' lock."""

    book: _SessionBook
    readings: list
    snapshots: dict
    stays: list[Event]
    sessions: list[tuple[int, str]]
    berths: list[tuple[int, str]]


class _SessionBook:
    """The batch's sessions, in memory: found once, changed event by event, written in bulk."""

    def __init__(self, *, now: datetime, counted_by_berths: set[int], berths: dict[int, Berth],
                 covers: dict[release.ExitQuery, release.Cover]):
        self.now = now
        self.berths = berths
        self.counted_by_berths = counted_by_berths
        self.covers = covers  # the release port's answers for the batch's exits
        self.active: dict[tuple, ParkingSession] = {}
        self.reviews: dict[tuple, list[ParkingSession]] = defaultdict(list)
        self.changed: dict[int, ParkingSession] = {}
        self.created: list[ParkingSession] = []
        self.opened: list[ParkingSession] = []  # sessions an entry of this batch opened
        self.closed: list[ParkingSession] = []  # stays this batch closed (the car has left)
        self.arrears: list[tuple[ParkingSession, str, str]] = []  # (session, rule, reference)
        self.waivers: list[tuple[ParkingSession, int, str, str]] = []  # (session, fen, rule, reference)
        self.links: dict[int, ParkingSession] = {}  # batch index → session
        self.moves: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        self.readings: list[berth_services.Reading] = []
        self.windows: dict[int, list] = {}  # lot id → free windows over the batch's stays
        self.versions: dict[int, int] = {}  # tariff id → the id of its rules' TariffVersion
        self.paid_at: dict[int, datetime] = {}  # session id → its last payment, for stays paid while parked

    @staticmethod
    def keys_of(session: ParkingSession) -> tuple[tuple[str, str], ...]:
        return vehicle_keys(session.plate, session.ticket_id)

    @staticmethod
    def _matching(events: list[Event]) -> dict:
        entries = [e.occurred_at for e in events if e.type == EventType.ENTRY]
        return {"lot_ids": {e.lot.pk for e in events}, "plates": {e.plate for e in events if e.plate},
                "tickets": {e.ticket_id for e in events if e.ticket_id},
                "reviews_exited_after": min(entries) if entries else None}

    def find(self, events: list[Event], *, lock: bool, versions: bool) -> list[ParkingSession]:
        """One query for the sessions these events may continue. ``lock``: row-locked (after the
        lots, by id): a payment committed meanwhile is seen, and one arriving now waits for this
        batch. ``versions``: read with their row versions, to be checked under the lock."""
        if not events:
            return []
        return selectors.sessions_matching(**self._matching(events), lock=lock, versions=versions)

    def versions_query(self, events: list[Event]):
        """The query of (id, row version) of the sessions ``find`` would read now, row-locked as it
        locks them; None when it would find none."""
        if not events:
            return None
        return selectors.session_versions_query(**self._matching(events))

    def prepare(self, found: list[ParkingSession], events: list[Event]) -> None:
        """The sessions ``find`` read, as the batch's active and review sets (their berths loaded by
        the caller), and the free windows over the stays the batch's exits may close."""
        for session in found:
            if session.berth_id is not None:
                session.berth = self.berths[session.berth_id]
            if session.state in ParkingSession.ACTIVE_STATES:
                self.activate(session)
            else:
                for key in self.keys_of(session):
                    self.reviews[(session.lot_id, key)].append(session)
        exits = [e for e in events if e.type == EventType.EXIT]
        if not exits:
            return
        self.paid_at = selectors.last_payment_times([s.pk for s in found if s.state == State.OPEN and s.paid_fen])
        times = [e.occurred_at for e in events] + [s.entry_at for s in found if s.entry_at is not None]
        self.windows = lot_selectors.free_windows_by_lot(lots={e.lot.pk: e.lot for e in exits}.values(),
                                                         start=min(times), end=max(times))

    # -- bookkeeping ---------------------------------------------------------------------------
    def activate(self, session: ParkingSession) -> None:
        for key in self.keys_of(session):
            self.active[(session.lot_id, key)] = session

    def deactivate(self, session: ParkingSession) -> None:
        for key in self.keys_of(session):
            if self.active.get((session.lot_id, key)) is session:
                del self.active[(session.lot_id, key)]

    def active_for(self, event: Event) -> ParkingSession | None:
        for key in event.keys:
            session = self.active.get((event.lot.pk, key))
            if session is not None:
                return session
        return None

    def review_for(self, event: Event, *, before: datetime | None) -> ParkingSession | None:
        """The exit seen without an entry that this (late) entry completes, if any."""
        candidates = [s for key in event.keys for s in self.reviews.get((event.lot.pk, key), ())
                      if s.entry_at is None and s.exit_at >= event.occurred_at
                      and (before is None or s.exit_at <= before)]
        return min(candidates, key=lambda s: s.exit_at, default=None)

    def touch(self, session: ParkingSession) -> None:
        if session.pk is not None:
            self.changed[session.pk] = session

    def new(self, event: Event, **fields) -> ParkingSession:
        session = ParkingSession(lot=event.lot, berth=event.berth, plate=event.plate, ticket_id=event.ticket_id,
                                 plate_color=event.plate_color, vehicle_class=event.vehicle_class or VehicleClass.SMALL,
                                 new_energy=event.new_energy, **fields)
        self.created.append(session)
        return session

    def _occupancy(self, event: Event, berth: Berth | None, state: str, change: int) -> None:
        """A car arrives (``change`` -1) or leaves (+1). On street, a stay with a berth moves the count
        through that berth's state, so a sensor and a camera reporting the same car count it once;
        otherwise the count moves directly (and a named berth's state is still kept)."""
        if berth is not None:
            self.readings.append(berth_services.Reading(berth, state, event.occurred_at, confirmed=True))
            if event.lot.pk in self.counted_by_berths:
                return
        self.moves[event.lot.pk].append((event.occurred_at, change))

    def arrive(self, event: Event, berth: Berth | None) -> None:
        self._occupancy(event, berth, Berth.State.OCCUPIED, -1)

    def leave(self, event: Event, berth: Berth | None) -> None:
        """``berth`` is the stay's berth as it arrived: the count moves the way it moved then."""
        self._occupancy(event, berth, Berth.State.VACANT, +1)

    # -- events --------------------------------------------------------------------------------
    def entry(self, event: Event) -> None:
        at = event.occurred_at
        current = self.active_for(event)
        review = self.review_for(event, before=current.entry_at if current is not None else None)
        if review is not None:
            # The exit came first; this entry completes it. Staff still review it; nothing is charged.
            review.entry_at, review.entry_event_id = at, event.event_id
            review.berth = review.berth or event.berth
            self.touch(review)
            self.links[event.index] = review
            self.arrive(event, event.berth)  # a reading older than the exit's changes no berth
            return
        if current is not None and self._before_current(at, current):
            # An earlier visit that ended unseen before the current one began.
            session = self.new(event, state=State.SUPERSEDED, entry_at=at, entry_event_id=event.event_id,
                               closed_at=current.entry_at)
            self.links[event.index] = session
            return
        if current is not None:
            # The car left unseen and is entering again: the old stay ends, then the new one begins.
            self.deactivate(current)
            if current.state == State.OPEN:
                current.state = State.SUPERSEDED
            else:
                current.state = State.CLOSED  # it drove away from an unpaid exit: what it owes is arrears
                if current.due_fen and current.plate:
                    self.arrears.append((current, release.LEFT_UNPAID_RULE, current.exit_event_id))
            current.closed_at = at
            self.closed.append(current)
            self.touch(current)
            if current.berth is None or current.berth != event.berth:
                self.leave(event, current.berth)
                self.arrive(event, event.berth)
        else:
            self.arrive(event, event.berth)
        session = self.new(event, state=State.OPEN, entry_at=at, entry_event_id=event.event_id)
        self.activate(session)
        self.opened.append(session)
        self.links[event.index] = session

    @staticmethod
    def _before_current(at: datetime, current: ParkingSession) -> bool:
        if current.state == State.AWAITING_PAYMENT:
            return current.exit_at is not None and at < current.exit_at
        return current.entry_at is not None and at < current.entry_at

    def review_exit(self, event: Event) -> ParkingSession:
        session = self.new(event, state=State.REVIEW, exit_at=event.occurred_at, closed_at=event.occurred_at,
                           exit_event_id=event.event_id, release_reason=Reason.REVIEW)
        for key in self.keys_of(session):
            self.reviews[(event.lot.pk, key)].append(session)
        return session

    def exit(self, event: Event) -> None:
        at = event.occurred_at
        current = self.active_for(event)
        if current is not None and current.state == State.OPEN and current.entry_at and at < current.entry_at:
            # The exit of an earlier visit; the later entry already counted that car as gone.
            self.links[event.index] = self.review_exit(event)
            return
        if current is None:
            self.links[event.index] = self.review_exit(event)
            self.leave(event, event.berth)
            return
        self.links[event.index] = current
        self.touch(current)
        cover = self.covers.get(release.ExitQuery(event.lot.pk, current.plate, at)) if current.plate else None
        if cover is not None and not cover.applies_to(current.entry_at, at):
            cover = None
        current.exit_event_id = event.event_id
        arrived_in = current.berth
        current.berth = current.berth or event.berth
        if current.state == State.OPEN:
            current.vehicle_class = event.vehicle_class or current.vehicle_class
            current.new_energy = current.new_energy or event.new_energy
            current.exit_at = at
            amount = self.price(current, event, cover)
            if amount is None:
                # Our data cannot price this stay: the barrier opens, nothing is charged, staff look at it.
                current.state, current.release_reason, current.closed_at = State.REVIEW, Reason.REVIEW, at
                self.deactivate(current)
                self.closed.append(current)
                self.leave(event, arrived_in)
                return
            # Paid while parked: within the lot's grace after the payment it owes no more than was paid.
            current.amount_fen = money.amount_after_grace(
                amount_fen=amount, paid_fen=current.paid_fen, exit_at=at, paid_at=self.paid_at.get(current.pk),
                grace_minutes=event.lot.grace_minutes)
        # Waiting for payment: the amount stays what it was at the first exit.
        current.due_fen = money.session_due(current)
        decision = release.decide_release(
            amount_fen=current.amount_fen, due_fen=current.due_fen, entry_known=True, cover=cover,
            lot_allows_pay_later=bool(event.lot.allow_pay_later and current.plate),
        )
        current.release_reason = decision.reason
        if not decision.release:
            current.state = State.AWAITING_PAYMENT
            return
        current.state, current.closed_at = State.CLOSED, at
        self.deactivate(current)
        self.closed.append(current)
        if decision.cover is not None and current.due_fen:
            self.settle(current, decision.cover)
        self.leave(event, arrived_in)

    def settle(self, session: ParkingSession, cover: release.Cover) -> None:
        """What is due when a cover releases the car: waived under its rule, or owed as arrears."""
        if cover.due == release.WAIVE:
            amount = session.due_fen
            session.waived_fen += amount
            session.due_fen = money.session_due(session)
            self.waivers.append((session, amount, cover.rule, cover.reference))
        else:
            self.arrears.append((session, cover.rule, cover.reference))

    def price(self, session: ParkingSession, event: Event, cover: release.Cover | None = None) -> int | None:
        """The stay's amount (0 in a lot without a tariff), or None when it cannot be priced; a
        cover's own free windows (a sharing contract's) count beside the lot's."""
        lot = event.lot
        windows = self.windows[lot.pk] + list(cover.free_windows) if cover is not None else self.windows[lot.pk]
        try:
            amount = lot_selectors.fee_for_stay(
                lot=lot, entry=session.entry_at, exit=event.occurred_at, vehicle_class=session.vehicle_class,
                new_energy=session.new_energy, free_windows=windows)
        except lot_selectors.NoTariff:
            return 0  # a lot without a tariff charges nothing
        except DomainError as exc:
            logger.warning("lot %s cannot price session %s (%s, field %s): %s", lot.code, session.pk, exc.code,
                           exc.field, exc.message)
            return None
        session.tariff_id, session.tariff_version_id = lot.tariff_id, self.version_of(lot.tariff)
        return amount

    def version_of(self, tariff: Tariff) -> int:
        """The TariffVersion of the rules that priced the stay: the tariff's own pointer, read in the
        same row as the rules; recorded here only if the rules were changed past ``Tariff.save``."""
        if tariff.pk not in self.versions:
            version = tariff.version if tariff.version_id is not None else None
            if version is None or version.digest != rules_digest(tariff.rules):
                version = TariffVersion.record(tariff)
            self.versions[tariff.pk] = version.pk
        return self.versions[tariff.pk]

    # -- writing -------------------------------------------------------------------------------
    def prepare_writes(self, row_ids: dict[int, int]) -> None:
        """The batch's writes, built from the reckoning as it stands (``row_ids``: the new events'
        rows, batch index → id): a batch reckoned before its lots' lock builds them before it too.
        On PostgreSQL they become statements (``writes``) with the new rows' keys allocated now, so
        that the arrears, ledger rows and links pointing at new rows are built with them and all run
        in one round trip under the lock. Elsewhere ``save`` writes them one after another."""
        for session in self.changed.values():
            session.updated_at = self.now
        self.row_ids = row_ids
        self.writes: list = []
        if connection.vendor != "postgresql":
            return
        keys = allocate_keys({ParkingSession: len(self.created), Arrears: len(self.arrears)})
        for session, key in zip(self.created, keys[ParkingSession], strict=True):
            session.pk = key
        records = self._arrears_records(keys[Arrears])
        self.writes = [
            prepared_update_rows(ParkingSession, list(self.changed.values()), _SESSION_FIELDS),
            prepared_insert_objects(ParkingSession, self.created),
            prepared_insert_objects(Arrears, records),
            prepared_insert_objects(SessionMoneyEntry, self._ledger_rows(records)),
            prepared_update_values(IngestEvent, ["session"], self._links()),
        ]

    def save(self) -> None:
        """Elsewhere than PostgreSQL: existing sessions first (an old stay must leave the active set
        before a new one joins it), then new sessions, arrears, ledger rows and the links from
        events to their sessions."""
        update_rows(ParkingSession, list(self.changed.values()), _SESSION_FIELDS)
        ParkingSession.objects.bulk_create(self.created)
        records = Arrears.objects.bulk_create(self._arrears_records())
        SessionMoneyEntry.objects.bulk_create(self._ledger_rows(records))
        update_values(IngestEvent, ["session"], self._links())

    def _arrears_records(self, keys: list[int] | None = None) -> list[Arrears]:
        return [Arrears(pk=keys[index] if keys else None, session=s, plate=s.plate, lot_id=s.lot_id,
                        amount_fen=s.due_fen, created_at=self.now)
                for index, (s, _rule, _reference) in enumerate(self.arrears)]

    def _ledger_rows(self, records: list[Arrears]) -> list[SessionMoneyEntry]:
        """The waivers' and the arrears' ledger rows (``records``: the arrears records, in order)."""
        entries = [SessionMoneyEntry(session=s, kind=Kind.WAIVER, amount_fen=fen, reason=rule, reference=reference,
                                     created_at=self.now) for s, fen, rule, reference in self.waivers]
        return entries + [SessionMoneyEntry(session=s, arrears=record, kind=Kind.ARREARS, amount_fen=record.amount_fen,
                                            reason=rule, reference=reference, created_at=self.now)
                          for (s, rule, reference), record in zip(self.arrears, records, strict=True)]

    def _links(self) -> list[tuple[int, int]]:
        return [(self.row_ids[index], session.pk) for index, session in self.links.items()]

    def tell_release_port(self) -> None:
        """Once written: the release port's providers hear of the entries the batch opened and the
        stays it closed."""
        release.entries_opened([release.EntryQuery(s.lot_id, s.plate, s.entry_at, s.pk)
                                for s in self.opened if s.plate])
        release.stays_closed([release.ClosedStay(s.lot_id, s.pk, s.closed_at) for s in self.closed if s.pk is not None])


# ---------------------------------------------------------------------------------------------------
# Session money: the one owner of paid, waived and due (STYLE.md "Money has one owner").
#
# Locks, in the one order the platform takes them (lot → session → arrears): these services change no
# lot row and take only the session's lock (and then its arrears record's), so they never wait for a
# lock while holding one ingest wants after it. Ingest locks the sessions it changes after their lots,
# so a payment and an exit of the same session run one after the other, whichever is first.

def _check_amount(amount_fen: int) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidAmount(_("金额须为正整数（分）"), field="amount_fen")
    if amount_fen > lot_selectors.MAX_AMOUNT_FEN:
        raise InvalidAmount(_("金额超出可记录的范围"), field="amount_fen")


def _check_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise InvalidAmount(_("须说明这笔款项的原因"), code="invalid_reason", field="reason")


def _locked_session(session_id: int) -> ParkingSession:
    session = ParkingSession.objects.select_for_update(no_key=True).filter(pk=session_id).first()
    if session is None:
        raise SessionNotFound(_("停车记录不存在"), field="session_id")
    return session


def _applied_already(session: ParkingSession, kind: str, reference: str) -> bool:
    return bool(reference) and SessionMoneyEntry.objects.filter(session=session, kind=kind,
                                                                reference=reference).exists()


def session_apply_payment(*, session_id: int, amount_fen: int, reason: str, reference: str = "",
                          now: datetime | None = None) -> ParkingSession:
    """A payment towards a stay: its paid amount goes up and what is due is decided again, in one
    ledger row. A payment with a ``reference`` (an order number) that was applied before changes
    nothing: a notice delivered twice pays once. The barrier is not opened here: the lot sends the
    plate's exit again and ingest releases it as ``paid``."""
    _check_amount(amount_fen)
    _check_reason(reason)
    with transaction.atomic():
        session = _locked_session(session_id)
        if _applied_already(session, Kind.PAYMENT, reference):
            return session
        if session.paid_fen + amount_fen > lot_selectors.MAX_AMOUNT_FEN:
            raise InvalidAmount(_("金额超出可记录的范围"), field="amount_fen")
        session.paid_fen += amount_fen
        session.due_fen = money.session_due(session)
        session.save(update_fields=["paid_fen", "due_fen", "updated_at"])
        SessionMoneyEntry.objects.create(session=session, kind=Kind.PAYMENT, amount_fen=amount_fen, reason=reason,
                                         reference=reference, created_at=now or timezone.now())
    return session


def session_apply_refund(*, session_id: int, amount_fen: int, reason: str, reference: str = "",
                         now: datetime | None = None) -> ParkingSession:
    """Money given back for a stay: its paid amount goes down (never below zero) and what is due is
    decided again, in one ledger row; a refund ``reference`` applied before changes nothing."""
    _check_amount(amount_fen)
    _check_reason(reason)
    with transaction.atomic():
        session = _locked_session(session_id)
        if _applied_already(session, Kind.REFUND, reference):
            return session
        if amount_fen > session.paid_fen:
            raise RefundExceedsPaid(_("退款金额不能超过已付金额"), field="amount_fen",
                                    details={"paid_fen": session.paid_fen})
        session.paid_fen -= amount_fen
        session.due_fen = money.session_due(session)
        session.save(update_fields=["paid_fen", "due_fen", "updated_at"])
        SessionMoneyEntry.objects.create(session=session, kind=Kind.REFUND, amount_fen=amount_fen, reason=reason,
                                         reference=reference, created_at=now or timezone.now())
    return session


def _locked_arrears(arrears_id: int) -> tuple[ParkingSession, Arrears]:
    """An arrears record and its stay, both locked in the order every money writer takes: the
    session, then its arrears."""
    session_id = Arrears.objects.filter(pk=arrears_id).values_list("session_id", flat=True).first()
    if session_id is None:
        raise ArrearsNotFound(_("欠费记录不存在"), field="arrears_id")
    session = _locked_session(session_id)
    return session, Arrears.objects.select_for_update(no_key=True).get(pk=arrears_id)


def arrears_apply_payment(*, arrears_id: int, amount_fen: int, reason: str, reference: str = "",
                          now: datetime | None = None) -> Arrears:
    """A payment towards an arrears record: its paid amount goes up, never past what it owes, in one
    ledger row; once it is paid in full it is marked paid (``paid_at``). The only writer of an
    arrears record's balance; a ``reference`` applied before changes nothing."""
    _check_amount(amount_fen)
    _check_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        session, arrears = _locked_arrears(arrears_id)
        if _applied_already(session, Kind.ARREARS_PAYMENT, reference):
            return arrears
        if amount_fen > arrears.amount_fen - arrears.paid_fen:
            raise PaymentExceedsArrears(_("缴费金额超过尚欠金额"), field="amount_fen",
                                        details={"owed_fen": arrears.amount_fen - arrears.paid_fen})
        arrears.paid_fen += amount_fen
        fields = ["paid_fen"]
        if arrears.paid_fen == arrears.amount_fen:
            arrears.paid_at = now
            fields.append("paid_at")
        arrears.save(update_fields=fields)
        SessionMoneyEntry.objects.create(session=session, arrears=arrears, kind=Kind.ARREARS_PAYMENT,
                                         amount_fen=amount_fen, reason=reason, reference=reference, created_at=now)
    return arrears


def arrears_apply_refund(*, arrears_id: int, amount_fen: int, reason: str, reference: str = "",
                         now: datetime | None = None) -> Arrears:
    """Money given back from what was paid towards an arrears record: its paid amount goes down
    (never below zero), in one ledger row, and a record no longer paid in full is owed again
    (``paid_at`` cleared). A refund ``reference`` applied before changes nothing."""
    _check_amount(amount_fen)
    _check_reason(reason)
    now = now or timezone.now()
    with transaction.atomic():
        session, arrears = _locked_arrears(arrears_id)
        if _applied_already(session, Kind.ARREARS_REFUND, reference):
            return arrears
        if amount_fen > arrears.paid_fen:
            raise RefundExceedsPaid(_("退款金额不能超过已缴金额"), field="amount_fen",
                                    details={"paid_fen": arrears.paid_fen})
        arrears.paid_fen -= amount_fen
        fields = ["paid_fen"]
        if arrears.paid_at is not None and arrears.paid_fen < arrears.amount_fen:
            arrears.paid_at = None
            fields.append("paid_at")
        arrears.save(update_fields=fields)
        SessionMoneyEntry.objects.create(session=session, arrears=arrears, kind=Kind.ARREARS_REFUND,
                                         amount_fen=amount_fen, reason=reason, reference=reference, created_at=now)
    return arrears
