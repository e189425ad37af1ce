"""Writes of booking and sharing (STYLE.md: services, atomic, locked, audited).

Locks, in one order: a slot (or an offer) is moved by one conditional UPDATE, which is its row
lock for the rest of the transaction; a reservation (or a contract) that already exists is locked
before the slot it gives a place back to. Ingest (lot → session) marks bookings arrived through the
release port (``gate``) and locks no slot.
"""

from __future__ import annotations

import calendar
import secrets
from collections import Counter
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, diff, field_values
from apps.common import plates
from apps.common.actor import user_of
from apps.common.citizens import bound_plates
from apps.common.scope import may_change

from . import errors, notify
from .models import BookingSite, Reservation, SharingApplication, SharingContract, SharingOffer, Slot, Suspension

State = Reservation.State
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed at a gate
CODE_LENGTH = 8


def new_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _iso(value: datetime) -> str:
    return timezone.localtime(value).isoformat()


def _bound_plate(user, plate: str) -> str:
    """The plate normalised, and bound to ``user`` (through the bound-plates port)."""
    if not isinstance(plate, str) or not plate.strip():
        raise plates.PlateError(_("请填写车牌"))
    normalised = plates.validate(plate)
    if normalised not in bound_plates(user):
        raise errors.PlateNotBound(_("该车牌未绑定到您的账号"), field="plate")
    return normalised


def _check_scope(actor, obj) -> None:
    if actor is not None and not may_change(user_of(actor), obj):
        raise errors.NotAllowed(_("只能修改本人负责的区域或经营单位的数据"))


# ---------------------------------------------------------------------------------------------------
# Staff rows: sites, slots, offers

def _full_clean(obj) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        field, problems = next(iter(exc.message_dict.items())) if hasattr(exc, "error_dict") else (None, exc.messages)
        raise errors.ReservationError(str(problems[0]), field=None if field == "__all__" else field,
                                      details={"fields": getattr(exc, "message_dict", {})}) from exc


def _rows_save(*, obj, actor, fields: tuple[str, ...], action: str):
    with transaction.atomic():
        _check_scope(actor, obj)
        before = field_values(type(obj).objects.get(pk=obj.pk), fields) if obj.pk else {}
        created = obj.pk is None
        _full_clean(obj)
        obj.save()
        after = field_values(type(obj).objects.get(pk=obj.pk), fields)  # as stored: times in one zone
        changes = diff(before, after)
        if created or changes:  # an unchanged form saved again is no staff action worth a line
            audit_record(action=f"{action}.{'created' if created else 'changed'}", actor=actor, obj=obj,
                         changes=changes)
    return obj


def hospital_save(*, hospital: BookingSite, actor) -> BookingSite:
    """A site's booking rules, as staff set them."""
    return _rows_save(obj=hospital, actor=actor, fields=BookingSite.RULE_FIELDS, action="hospital")


SLOT_FIELDS = ("hospital", "berth_kind", "starts_at", "ends_at", "quota")


def _save_above_held(*, obj, actor, limit: str, held: str, message, code: str, fields, action: str):
    """Save a slot or an offer whose ``limit`` (places, berths) never drops below what it already
    ``held`` (bookings, contracts): that counter is read under the row's lock and kept as stored."""
    with transaction.atomic():
        if obj.pk is not None:
            taken = getattr(type(obj).objects.select_for_update().get(pk=obj.pk), held)
            if getattr(obj, limit) < taken:
                raise errors.ReservationError(message % {"n": taken}, code=code, field=limit)
            setattr(obj, held, taken)
        return _rows_save(obj=obj, actor=actor, fields=fields, action=action)


def slot_save(*, slot: Slot, actor) -> Slot:
    """A slot's quota never drops below the bookings it already holds."""
    return _save_above_held(obj=slot, actor=actor, limit="quota", held="booked",
                            message=_("可预约数不能少于已预约数 %(n)d"), code="quota_below_booked",
                            fields=SLOT_FIELDS, action="slot")


def slot_delete(*, slot: Slot, actor) -> None:
    """A slot that holds bookings stays: its citizens were promised a place."""
    with transaction.atomic():
        locked = Slot.objects.select_for_update().get(pk=slot.pk)
        _check_scope(actor, locked)
        if locked.booked or locked.reservations.exists():
            raise errors.StateConflict(_("该时段已有预约，不能删除；可把可预约数调为已预约数"),
                                       code="slot_has_bookings")
        audit_record(action="slot.deleted", actor=actor, obj=locked,
                     changes={name: [value, None] for name, value in field_values(locked, SLOT_FIELDS).items()})
        locked.delete()


def offer_save(*, offer: SharingOffer, actor) -> SharingOffer:
    """An offer's berths never drop below the contracts it holds."""
    return _save_above_held(obj=offer, actor=actor, limit="berths", held="taken",
                            message=_("共享泊位数不能少于已签约数 %(n)d"), code="quota_below_taken",
                            fields=SharingOffer.RULE_FIELDS, action="sharing_offer")


# ---------------------------------------------------------------------------------------------------
# Booking

def active_suspension(*, user, hospital_id: int, now: datetime) -> Suspension | None:
    return (Suspension.objects.filter(user=user, hospital_id=hospital_id, lifted_at__isnull=True,
                                      starts_at__lte=now, until__gt=now).order_by("-until").first())


def booking_open(*, slot: Slot, hospital: BookingSite, now: datetime) -> bool:
    """Inside the site's booking window and before its cut-off."""
    last_day = timezone.localtime(now).date() + timedelta(days=hospital.booking_window_days)
    return (timezone.localtime(slot.starts_at).date() <= last_day
            and now < slot.starts_at - timedelta(minutes=hospital.booking_cutoff_minutes))


def reservation_book(*, user, slot_id, plate: str, now: datetime | None = None) -> Reservation:
    """Book a place of a slot for a bound plate: inside the site's booking window and before its
    cut-off, one active booking per plate, site and day, never past the quota (one conditional
    UPDATE takes the place), and not while the citizen's booking there is suspended."""
    now = now or timezone.now()
    normalised = _bound_plate(user, plate)
    try:
        slot = Slot.objects.select_related("hospital").get(pk=int(slot_id), hospital__active=True)
    except (Slot.DoesNotExist, TypeError, ValueError):
        raise errors.UnknownSlot(_("没有这个预约时段"), field="slot") from None
    hospital = slot.hospital
    if not booking_open(slot=slot, hospital=hospital, now=now):
        raise errors.BookingNotOpen(_("该时段不在可预约时间内"), field="slot", details={
            "booking_window_days": hospital.booking_window_days,
            "cutoff_minutes": hospital.booking_cutoff_minutes})
    suspension = active_suspension(user=user, hospital_id=hospital.pk, now=now)
    if suspension is not None:
        raise errors.BookingSuspended(_("爽约次数过多，暂停预约至 %(until)s") % {
            "until": timezone.localtime(suspension.until).strftime("%Y-%m-%d %H:%M")},
            details={"until": _iso(suspension.until)})
    day = timezone.localtime(slot.starts_at).date()
    duplicate = errors.DuplicateReservation(_("该车牌当天在此已有预约"), field="plate")
    if Reservation.objects.filter(plate=normalised, hospital=hospital, day=day, state__in=Reservation.ACTIVE_STATES
                                  ).exists():
        raise duplicate
    try:
        with transaction.atomic():
            reservation = Reservation.objects.create(
                code=new_code(), slot=slot, hospital=hospital, lot_id=hospital.lot_id, day=day, user=user,
                plate=normalised, created_at=now,
                arrive_from=slot.starts_at - timedelta(minutes=hospital.arrive_before_minutes),
                arrive_until=slot.starts_at + timedelta(minutes=hospital.arrive_after_minutes),
            )
            # The place last: the slot's row stays locked from here to the commit, so every booking of a
            # hot slot waits for the others only that long. No place, and the insert rolls back with it.
            if not Slot.objects.filter(pk=slot.pk, booked__lt=F("quota")).update(booked=F("booked") + 1):
                raise errors.SlotFull(_("该时段已约满"), field="slot")
            notify.tell("reservation.confirmed", user.pk, {
                "code": reservation.code, "plate": normalised, "hospital": hospital.name,
                "arrive_from": _iso(reservation.arrive_from), "arrive_until": _iso(reservation.arrive_until)})
    except IntegrityError:  # the same plate booked the same day at the same moment: the index said no
        raise duplicate from None
    reservation.slot = slot
    return reservation


def _give_back(slot_counts: Counter) -> None:
    for slot_id, count in sorted(slot_counts.items()):
        Slot.objects.filter(pk=slot_id).update(booked=F("booked") - count)


def reservation_cancel(*, reservation_id, user, now: datetime | None = None) -> Reservation:
    """The citizen cancels a booking until the site's cancellation cut-off; the place is back at once."""
    now = now or timezone.now()
    with transaction.atomic():
        try:
            reservation = (Reservation.objects.select_for_update().select_related("slot", "hospital")
                           .get(pk=int(reservation_id), user=user))
        except (Reservation.DoesNotExist, TypeError, ValueError):
            raise errors.ReservationError(_("没有这个预约"), code="not_found", status=404) from None
        if reservation.state != State.BOOKED:
            raise errors.CancellationClosed(_("该预约已无法取消"), details={"state": reservation.state})
        deadline = reservation.slot.starts_at - timedelta(minutes=reservation.hospital.cancel_cutoff_minutes)
        if now >= deadline:
            raise errors.CancellationClosed(_("已过取消截止时间"), details={"cancel_until": _iso(deadline)})
        reservation.state, reservation.closed_at = State.CANCELLED, now
        reservation.save(update_fields=["state", "closed_at"])
        _give_back(Counter({reservation.slot_id: 1}))
    return reservation


def reservations_sweep(*, now: datetime | None = None, limit: int = 2000) -> dict[str, int]:
    """The periodic work: a booking nobody arrived for by the end of its window is a ``no_show``
    (its place back to the pool, the citizen told, booking suspended after the site's limit); an
    arrived booking whose stay has closed is ``completed``."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(Reservation.objects.select_for_update(skip_locked=True)
                   .filter(state=State.BOOKED, arrive_until__lt=now).order_by("pk")[:limit])
        if due:
            Reservation.objects.filter(pk__in=[r.pk for r in due]).update(state=State.NO_SHOW, closed_at=now)
            _give_back(Counter(r.slot_id for r in due))
            for reservation in due:
                notify.tell("reservation.no_show", reservation.user_id, {
                    "code": reservation.code, "plate": reservation.plate, "hospital_id": reservation.hospital_id})
        suspended = _suspend_repeat_no_shows({(r.user_id, r.hospital_id) for r in due}, now=now)
    completed = _complete_arrived(now=now)
    return {"no_show": len(due), "suspended": suspended, "completed": completed, "reminded": _remind(now=now)}


def _remind(*, now: datetime) -> int:
    """Remind each booking once, in the ``notify.REMINDER_LEAD`` before its arrival window opens."""
    coming = (Reservation.objects.filter(state=State.BOOKED, arrive_from__gt=now,
                                         arrive_from__lte=now + notify.REMINDER_LEAD)
              .select_related("hospital").order_by("pk"))
    reminded = 0
    with transaction.atomic():
        for reservation in coming:
            if notify.first_reminder(reservation.pk):
                notify.tell("reservation.reminder", reservation.user_id, {
                    "code": reservation.code, "plate": reservation.plate, "hospital": reservation.hospital.name,
                    "arrive_from": _iso(reservation.arrive_from), "arrive_until": _iso(reservation.arrive_until)})
                reminded += 1
    return reminded


def _suspend_repeat_no_shows(pairs: set[tuple[int, int]], *, now: datetime) -> int:
    if not pairs:
        return 0
    hospitals = BookingSite.objects.in_bulk({h for _u, h in pairs})
    made = 0
    for user_id, hospital_id in sorted(pairs):
        hospital = hospitals[hospital_id]
        since = now - timedelta(days=hospital.no_show_period_days)
        if Suspension.objects.filter(user_id=user_id, hospital=hospital, lifted_at__isnull=True,
                                     until__gt=now).exists():
            continue
        lifted = Suspension.objects.filter(user_id=user_id, hospital=hospital, lifted_at__gt=since).order_by(
            "-lifted_at").values_list("lifted_at", flat=True).first()
        # No-shows before a suspension was lifted were forgiven with it.
        count = Reservation.objects.filter(user_id=user_id, hospital=hospital, state=State.NO_SHOW,
                                           closed_at__gt=max(since, lifted) if lifted else since).count()
        if count >= hospital.no_show_limit:
            until = now + timedelta(days=hospital.suspension_days)
            Suspension.objects.create(hospital=hospital, user_id=user_id, starts_at=now, until=until, no_shows=count)
            notify.tell("booking.suspended", user_id, {"hospital_id": hospital_id, "until": _iso(until)})
            made += 1
    return made


def _complete_arrived(*, now: datetime) -> int:
    from apps.sessions.models import ParkingSession

    closed = ParkingSession.objects.filter(closed_at__isnull=False).values("pk")
    return Reservation.objects.filter(state=State.ARRIVED, session_id__in=closed).update(
        state=State.COMPLETED, closed_at=now)


def suspension_lift(*, suspension_id: int, actor, now: datetime | None = None) -> Suspension:
    """Staff lift a suspension: the citizen may book again, and earlier no-shows are forgiven."""
    now = now or timezone.now()
    with transaction.atomic():
        suspension = Suspension.objects.select_for_update().select_related("hospital__lot").get(pk=suspension_id)
        _check_scope(actor, suspension)
        if suspension.lifted_at is not None:
            return suspension
        suspension.lifted_at, suspension.lifted_by = now, user_of(actor)
        suspension.save(update_fields=["lifted_at", "lifted_by"])
        audit_record(action="booking_suspension.lifted", actor=actor, obj=suspension,
                     changes={"lifted_at": [None, _iso(now)]})
    return suspension


# ---------------------------------------------------------------------------------------------------
# Off-peak sharing

def sharing_apply(*, user, offer_id, plate: str, address: str, now: datetime | None = None) -> SharingApplication:
    """A resident applies for an offer with a bound plate and an address (一键签约: the page fills
    both from the account); one pending application per plate and offer."""
    now = now or timezone.now()
    normalised = _bound_plate(user, plate)
    address = (address or "").strip()
    if not address:
        raise errors.ReservationError(_("请填写住址"), field="address")
    if len(address) > 200:
        raise errors.ReservationError(_("住址最多 200 个字符"), field="address")
    try:
        offer = SharingOffer.objects.get(pk=int(offer_id), active=True)
    except (SharingOffer.DoesNotExist, TypeError, ValueError):
        raise errors.UnknownOffer(_("没有这个共享泊位"), field="offer") from None
    duplicate = errors.DuplicateApplication(_("该车牌已申请过这个共享泊位"), field="plate")
    pending = SharingApplication.State.PENDING
    if (SharingApplication.objects.filter(offer=offer, plate=normalised, state=pending).exists()
            or SharingContract.objects.filter(lot_id=offer.lot_id, plate=normalised,
                                              state=SharingContract.State.ACTIVE).exists()):
        raise duplicate
    try:
        with transaction.atomic():
            return SharingApplication.objects.create(offer=offer, user=user, plate=normalised, address=address,
                                                     created_at=now)
    except IntegrityError:
        raise duplicate from None


def _add_months(value: datetime, months: int) -> datetime:
    local = timezone.localtime(value)
    month = local.month - 1 + months
    year, month = local.year + month // 12, month % 12 + 1
    return local.replace(year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1]))


def sharing_application_approve(*, application_id: int, actor, now: datetime | None = None) -> SharingContract:
    """Staff approve within the offer's berths (one conditional UPDATE takes the place): the
    contract starts now and runs the offer's term."""
    now = now or timezone.now()
    with transaction.atomic():
        application = SharingApplication.objects.select_for_update().select_related("offer").get(pk=application_id)
        _check_scope(actor, application)
        if application.state != SharingApplication.State.PENDING:
            raise errors.StateConflict(_("该申请已处理"), details={"state": application.state})
        offer = application.offer
        if not SharingOffer.objects.filter(pk=offer.pk, taken__lt=F("berths")).update(taken=F("taken") + 1):
            raise errors.OfferFull(_("共享泊位已签满"))
        application.state, application.decided_at, application.decided_by = (
            SharingApplication.State.APPROVED, now, user_of(actor))
        application.save(update_fields=["state", "decided_at", "decided_by"])
        try:
            with transaction.atomic():
                contract = SharingContract.objects.create(
                    number=new_code("SC"), offer=offer, application=application, lot_id=offer.lot_id,
                    user_id=application.user_id, plate=application.plate, starts_at=now,
                    ends_at=_add_months(now, offer.term_months), monthly_price_fen=offer.monthly_price_fen,
                    months=offer.term_months)
        except IntegrityError:
            raise errors.StateConflict(_("该车牌在此停车场已有生效的共享合同"), code="duplicate_contract") from None
        audit_record(action="sharing_application.approved", actor=actor, obj=application,
                     changes={"state": ["pending", "approved"], "contract": [None, contract.number]})
        notify.tell("sharing.approved", application.user_id, {"number": contract.number})
    return contract


def sharing_application_reject(*, application_id: int, actor, note: str = "",
                               now: datetime | None = None) -> SharingApplication:
    now = now or timezone.now()
    with transaction.atomic():
        application = SharingApplication.objects.select_for_update().select_related("offer__lot").get(
            pk=application_id)
        _check_scope(actor, application)
        if application.state != SharingApplication.State.PENDING:
            raise errors.StateConflict(_("该申请已处理"), details={"state": application.state})
        application.state, application.decided_at, application.decided_by, application.note = (
            SharingApplication.State.REJECTED, now, user_of(actor), note[:200])
        application.save(update_fields=["state", "decided_at", "decided_by", "note"])
        audit_record(action="sharing_application.rejected", actor=actor, obj=application,
                     changes={"state": ["pending", "rejected"], "note": ["", note[:200]]})
    return application


def _locked_contract(contract_id, *, user=None) -> SharingContract:
    rows = SharingContract.objects.select_for_update().select_related("offer")
    if user is not None:
        rows = rows.filter(user=user)
    try:
        return rows.get(pk=int(contract_id))
    except (SharingContract.DoesNotExist, TypeError, ValueError):
        raise errors.ReservationError(_("没有这个共享合同"), code="not_found", status=404) from None


def _release_place(contract: SharingContract) -> None:
    SharingOffer.objects.filter(pk=contract.offer_id, taken__gt=0).update(taken=F("taken") - 1)


def sharing_contract_end(*, contract_id, actor=None, user=None, now: datetime | None = None) -> SharingContract:
    """Either side ends a contract (the citizen through the API, staff in the admin): its place
    goes back to the offer at once."""
    now = now or timezone.now()
    with transaction.atomic():
        contract = _locked_contract(contract_id, user=user)
        if actor is not None:
            _check_scope(actor, contract)
        if contract.state != SharingContract.State.ACTIVE:
            raise errors.StateConflict(_("该合同已不在生效中"), details={"state": contract.state})
        contract.state, contract.ended_at = SharingContract.State.ENDED, now
        contract.ended_by = SharingContract.EndedBy.CITIZEN if user is not None else SharingContract.EndedBy.STAFF
        contract.save(update_fields=["state", "ended_at", "ended_by"])
        _release_place(contract)
        audit_record(action="sharing_contract.ended", actor=actor, obj=contract, changes={"state": ["active", "ended"]})
    return contract


def sharing_contract_renew(*, contract_id, actor=None, user=None, now: datetime | None = None) -> SharingContract:
    """Another term at the offer's current price, from the contract's end."""
    now = now or timezone.now()
    with transaction.atomic():
        contract = _locked_contract(contract_id, user=user)
        if actor is not None:
            _check_scope(actor, contract)
        if contract.state != SharingContract.State.ACTIVE or contract.ends_at <= now:
            raise errors.StateConflict(_("只有生效中的合同可以续约"), details={"state": contract.state})
        term = contract.offer.term_months
        before = _iso(contract.ends_at)
        contract.ends_at = _add_months(contract.ends_at, term)
        contract.months += term
        contract.monthly_price_fen = contract.offer.monthly_price_fen
        contract.save(update_fields=["ends_at", "months", "monthly_price_fen"])
        audit_record(action="sharing_contract.renewed", actor=actor, obj=contract,
                     changes={"ends_at": [before, _iso(contract.ends_at)]})
    return contract


def sharing_contracts_expire(*, now: datetime | None = None) -> int:
    """Contracts past their end expire and give their place back (periodic)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(SharingContract.objects.select_for_update(skip_locked=True).filter(
            state=SharingContract.State.ACTIVE, ends_at__lte=now).order_by("pk"))
        if due:
            SharingContract.objects.filter(pk__in=[c.pk for c in due]).update(
                state=SharingContract.State.EXPIRED, ended_at=F("ends_at"))
            for offer_id, count in sorted(Counter(c.offer_id for c in due).items()):
                SharingOffer.objects.filter(pk=offer_id).update(taken=F("taken") - count)
    return len(due)
