"""Writes of the hotline. Every change to a ticket goes through here: it locks the ticket, asks
``workflow.check_move`` when the state moves, writes the change as a ``TicketChange`` row that the
ticket then points at, audits what staff did and sends notices after commit."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, diff, field_values
from apps.common import plates
from apps.common.actor import user_of
from apps.common.geo import to_wgs84
from apps.common.scope import may_change
from apps.lots.models import ParkingLot

from . import ports, workdays, workflow
from .errors import (
    AlreadyRated,
    ComplaintError,
    EmptyDescription,
    IllegalTransition,
    InvalidLocation,
    InvalidPhone,
    NotAFeeDispute,
    NotRateable,
    OutOfScope,
    ReasonRequired,
    RefundsUnavailable,
    UnknownCategory,
    UnknownLot,
)
from .models import (
    Category,
    Channel,
    DispatchRule,
    Escalation,
    LocalDay,
    Open311Key,
    Ticket,
    TicketChange,
    TicketDay,
    Unit,
)
from .selectors import session_match

#: the categories whose tickets are about money a stay cost (they link to the session)
FEE_CATEGORIES = frozenset({"fee_dispute", "wrong_charge", "payment_failure"})
DESCRIPTION_MAX = 2000
#: how long a new ticket may wait for its dispatch after commit before the 督办 pass routes it
DISPATCH_GRACE = timedelta(minutes=2)

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")  # area code (3–4 digits incl. 0) + 7–8 digit number
_PHONE_STRIP = str.maketrans("", "", " -()（）")


# -- inputs ---------------------------------------------------------------------------------------
def phone_normalize(raw: str | None, *, required: bool = True) -> str:
    """A mainland mobile (11 digits from 13–19) or a landline with its area code, as digits."""
    value = (raw or "").strip().translate(_PHONE_STRIP)
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("0086"):
        value = value[4:]
    if not value and not required:
        return ""
    if not (_MOBILE.match(value) or _LANDLINE.match(value)):
        raise InvalidPhone(_("请填写有效的手机号码或带区号的固定电话"), field="phone")
    return value


def _category(category: Category | str) -> Category:
    if isinstance(category, Category):
        return category
    code = (category or "").strip()
    found = Category.objects.filter(code=code, active=True).first() if code else None
    if found is None:
        message = _("未知的诉求类别：{code}").format(code=code[:32]) if code else _("请选择诉求类别")
        raise UnknownCategory(message, field="category",
                              details={"allowed": list(Category.objects.filter(active=True)
                                                       .values_list("code", flat=True))})
    return found


def _lot(lot: ParkingLot | str | None) -> ParkingLot | None:
    if lot is None or isinstance(lot, ParkingLot):
        return lot
    code = lot.strip().upper()
    if not code:
        return None
    found = ParkingLot.objects.select_related("region", "operator").filter(code=code).first()
    if found is None:
        raise UnknownLot(_("未知的停车场编码：{code}").format(code=code[:32]), field="lot")
    return found


def _position(lat, lon, coord_system: str | None) -> tuple[float | None, float | None]:
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None:
        raise InvalidLocation(_("请同时填写纬度和经度"), field="lat" if lat is None else "lon")
    try:
        return to_wgs84(float(lat), float(lon), coord_system or "wgs84")
    except (TypeError, ValueError) as exc:
        raise InvalidLocation(_("坐标无效：{error}").format(error=exc), field="lat") from exc


def _description(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise EmptyDescription(_("请填写诉求内容"), field="description")
    if len(text) > DESCRIPTION_MAX:
        raise ComplaintError(_("诉求内容不能超过{n}字").format(n=DESCRIPTION_MAX), code="description_too_long",
                             field="description")
    return text


# -- numbers and units ----------------------------------------------------------------------------
def ticket_number_next(at: datetime) -> str:
    """``RX`` + local date + ``-`` + the day's next sequence number (SPEC §8.2)."""
    day = timezone.localtime(at).date()
    with transaction.atomic():
        if not TicketDay.objects.filter(day=day).update(last=F("last") + 1):
            try:
                with transaction.atomic():
                    TicketDay.objects.create(day=day, last=1)
            except IntegrityError:  # another ticket created the day's row first
                TicketDay.objects.filter(day=day).update(last=F("last") + 1)
        number = TicketDay.objects.get(day=day).last
    return f"RX{day:%Y%m%d}-{number:04d}"


def unit_city() -> Unit:
    unit, _created = Unit.objects.get_or_create(kind=Unit.Kind.CITY, defaults={"name": _("无锡市停车服务热线")})
    return unit


def unit_for_region(region) -> Unit:
    unit, _created = Unit.objects.get_or_create(
        region=region, defaults={"kind": Unit.Kind.REGION, "name": _("{name}停车管理办公室").format(name=region.name)})
    return unit


def unit_for_operator(operator) -> Unit:
    unit, _created = Unit.objects.get_or_create(operator=operator,
                                                defaults={"kind": Unit.Kind.OPERATOR, "name": operator.name})
    return unit


def ticket_route(ticket: Ticket) -> Unit:
    """The first active rule that matches (every condition it gives), else the lot's district
    office, else the region's, else the city's hotline office."""
    operator_id = ticket.lot.operator_id if ticket.lot_id else None
    region_id = ticket.region_id
    for rule in DispatchRule.objects.filter(active=True).select_related("unit").order_by("position", "pk"):
        if rule.category_id and rule.category_id != ticket.category_id:
            continue
        if rule.region_id and rule.region_id != region_id:
            continue
        if rule.operator_id and rule.operator_id != operator_id:
            continue
        return rule.unit
    if ticket.region_id:
        return unit_for_region(ticket.region)
    return unit_city()


# -- changes --------------------------------------------------------------------------------------
def _locked(ticket: Ticket | int) -> Ticket:
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    return Ticket.objects.select_for_update(of=("self",)).select_related("category", "unit", "lot").get(pk=pk)


def _check_scope(actor, ticket: Ticket) -> None:
    if user_of(actor) is not None and not may_change(actor, ticket):
        raise OutOfScope(_("只能办理本单位负责的工单"))


def _record(ticket: Ticket, *, kind: str, actor, at: datetime, note: str = "", public: bool = False,
            from_state: str = "", reason: str = "") -> TicketChange:
    user = user_of(actor)
    change = TicketChange.objects.create(
        ticket=ticket, kind=kind, from_state=from_state, state=ticket.state, reason=reason, note=note,
        public=public, actor=user if getattr(user, "pk", None) else None, at=at)
    ticket.last_change = change
    return change


def _notify_after_commit(kind: str, ticket: Ticket, change: TicketChange) -> None:
    transaction.on_commit(lambda: ports.send_notice(kind, ticket, change))


def _snapshot(ticket: Ticket, category: Category, *, received_at: datetime | None = None) -> None:
    due = workdays.deadlines(received_at=received_at or ticket.created_at, respond_hours=category.respond_hours,
                             resolve_working_days=category.resolve_working_days, warn_hours=category.warn_hours,
                             city_after_hours=category.city_after_hours)
    ticket.respond_by, ticket.resolve_by = due.respond_by, due.resolve_by
    ticket.warn_at, ticket.escalate_city_at = due.warn_at, due.escalate_city_at


@transaction.atomic
def ticket_create(*, channel: str, category: Category | str, description: str, phone: str = "",
                  caller_name: str = "", plate: str | None = "", lot: ParkingLot | str | None = None,
                  session=None, lat=None, lon=None, coord_system: str | None = "wgs84", address: str = "",
                  external_id: str = "", open311_key: Open311Key | None = None, received_at: datetime | None = None,
                  region=None, user=None, actor=None) -> Ticket:
    """A new ticket from any channel, its deadlines snapshot from its category's SLA; it is routed
    to its unit after commit. ``user`` is the citizen's account when one filed it (logged in on the
    web, or through WeChat): they are told of its changes and see it under 我的. The web and WeChat
    need the caller's phone (it is their follow-up key), but for a WeChat ticket from a known sender,
    whom the account tells.
    The ticket's region is its lot's (``region`` is for a ticket about no lot)."""
    if channel not in Channel.values:
        raise ComplaintError(_("未知的来源"), code="invalid", field="channel")
    category = _category(category)
    description = _description(description)
    # A WeChat ticket that knows its sender (``external_id``) is followed up through the account.
    phone = phone_normalize(phone, required=channel in (Channel.WEB, Channel.PHONE) or (
        channel == Channel.WECHAT and not external_id))
    plate = plates.validate(plate) if plate else ""
    lot = _lot(lot)
    lat, lon = _position(lat, lon, coord_system)
    if session is not None and lot is not None and session.lot_id != lot.pk:
        raise ComplaintError(_("停车记录不属于所选停车场"), code="session_mismatch", field="session")
    if session is not None and lot is None:
        lot = session.lot
    if session is not None and not plate:
        plate = session.plate or ""
    now = received_at or timezone.now()
    if session is None and category.code in FEE_CATEGORIES and plate:
        session = session_match(plate=plate, lot=lot, at=now)
        if session is not None and lot is None:
            lot = session.lot
    if user_of(actor) is not None and not may_change(actor, Ticket(region=lot.region if lot else region)):
        raise OutOfScope(_("只能受理本人负责区域内的诉求"), field="lot")
    ticket = Ticket(
        ticket_no=ticket_number_next(now), channel=channel, external_id=(external_id or "")[:64], category=category,
        description=description, phone=phone, caller_name=(caller_name or "").strip()[:64], plate=plate, lot=lot,
        session=session, lat=lat, lon=lon, address=(address or "").strip()[:255],
        region=lot.region if lot is not None else region, state=workflow.RECEIVED, open311_key=open311_key,
        user=user if getattr(user, "is_authenticated", False) else None, created_at=now)
    _snapshot(ticket, category)
    ticket.save()
    received = _record(ticket, kind=TicketChange.Kind.STATE, actor=actor, at=now, public=True,
                       note=_("诉求已受理"))
    ticket.save(update_fields=["last_change"])
    _notify_after_commit(ports.NOTICE_STATUS, ticket, received)
    audit_record(action="ticket.created", actor=actor, obj=ticket,
                 changes={"state": [None, ticket.state], "category": [None, category.code]})
    from . import tasks

    ticket_id = ticket.pk
    # Robust, as in production where the worker's failure never reaches the caller: in the embedded
    # default the task runs eagerly right after commit, inside the caller's request, and an error
    # there (or an unreachable broker in production) must not turn a saved ticket into a 500. A
    # ticket left undispatched is picked up by the next 督办 pass (``tickets_supervise``).
    transaction.on_commit(lambda: tasks.dispatch_ticket.delay(ticket_id), robust=True)
    return ticket


@transaction.atomic
def ticket_dispatch(*, ticket: Ticket | int, actor=None) -> Ticket:
    """Route a received (or reopened, unassigned) ticket to its unit. Run after commit; a ticket
    already dispatched is left as it is, so running it twice changes nothing."""
    ticket = _locked(ticket)
    if ticket.state not in (workflow.RECEIVED, workflow.REOPENED) or (
            ticket.state == workflow.REOPENED and ticket.unit_id):
        return ticket
    unit = ticket_route(ticket)
    before = ticket.state
    workflow.check_move(state=before, target=workflow.DISPATCHED, now=timezone.now())
    ticket.unit = unit
    if ticket.region_id is None and unit.region_id:
        ticket.region_id = unit.region_id
    ticket.state = workflow.DISPATCHED
    change = _record(ticket, kind=TicketChange.Kind.STATE, actor=actor, at=timezone.now(), from_state=before,
                     public=True, note=_("已派至{unit}办理").format(unit=unit.name))
    ticket.save(update_fields=["unit", "region", "state", "last_change", "updated_at"])
    audit_record(action="ticket.dispatched", actor=actor, obj=ticket, changes={"unit": [None, unit.pk]})
    _notify_after_commit(ports.NOTICE_STATUS, ticket, change)
    return ticket


@transaction.atomic
def ticket_transition(*, ticket: Ticket | int, target: str, actor, note: str = "", public: bool = True,
                      reason: str = "") -> Ticket:
    """Move a ticket to ``target`` if the workflow allows it from the state it is in now (read
    under the lock: of two staff acting at once, the second sees the first's move)."""
    ticket = _locked(ticket)
    _check_scope(actor, ticket)
    now = timezone.now()
    before = ticket.state
    workflow.check_move(state=before, target=target, reason=reason, resolved_at=ticket.resolved_at, now=now)
    if target == workflow.DISPATCHED:
        # Dispatching again (after a reopen) goes back to the routing rules.
        ticket.unit = ticket_route(ticket)
    ticket.state = target
    fields = ["state", "last_change", "updated_at", "unit"]
    if target in (workflow.IN_PROGRESS, workflow.RESOLVED, workflow.REJECTED) and ticket.responded_at is None:
        ticket.responded_at = now
        fields.append("responded_at")
    if target == workflow.RESOLVED:
        ticket.resolved_at = now
        fields.append("resolved_at")
    if target == workflow.REOPENED:
        # A reopened ticket is worked again from now: its deadlines are taken afresh from its
        # category's SLA, counted from the reopening (working days), and supervision starts over.
        ticket.resolved_at = None
        _snapshot(ticket, ticket.category, received_at=now)
        ticket.escalation = Escalation.NONE
        fields += ["resolved_at", "respond_by", "resolve_by", "warn_at", "escalate_city_at", "escalation"]
    if target in (workflow.CLOSED, workflow.REJECTED):
        ticket.closed_at = now
        fields.append("closed_at")
    change = _record(ticket, kind=TicketChange.Kind.STATE, actor=actor, at=now, from_state=before,
                     note=(note or "").strip(), public=public, reason=reason)
    ticket.save(update_fields=fields)
    audit_record(action=f"ticket.{target}", actor=actor, obj=ticket,
                 changes={"state": [before, target], **({"reason": ["", reason]} if reason else {})})
    if public:
        _notify_after_commit(ports.NOTICE_STATUS, ticket, change)
    return ticket


@transaction.atomic
def ticket_reassign(*, ticket: Ticket | int, unit: Unit, reason: str, actor) -> Ticket:
    """Send an open ticket to another unit, saying why; the ticket moves to that unit's region."""
    ticket = _locked(ticket)
    _check_scope(actor, ticket)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(_("改派须说明原因"), field="reason")
    if ticket.state not in workflow.OPEN_STATES:
        raise IllegalTransition(_("已办结或已关闭的工单不能改派"), details={"state": ticket.state})
    if unit.pk == ticket.unit_id:
        raise ComplaintError(_("工单已在该单位"), code="same_unit", field="unit")
    before = ticket.unit_id
    ticket.unit = unit
    if unit.region_id:
        ticket.region_id = unit.region_id
    elif unit.operator_id and ticket.lot_id is None and unit.operator.region_id:
        ticket.region_id = unit.operator.region_id
    if ticket.state == workflow.RECEIVED:
        workflow.check_move(state=ticket.state, target=workflow.DISPATCHED, now=timezone.now())
        ticket.state = workflow.DISPATCHED
    _record(ticket, kind=TicketChange.Kind.REASSIGNED, actor=actor, at=timezone.now(), note=reason,
            from_state=ticket.state)
    ticket.save(update_fields=["unit", "region", "state", "last_change", "updated_at"])
    audit_record(action="ticket.reassigned", actor=actor, obj=ticket, changes={"unit": [before, unit.pk]})
    return ticket


@transaction.atomic
def ticket_note(*, ticket: Ticket | int, note: str, public: bool, actor) -> TicketChange:
    ticket = _locked(ticket)
    _check_scope(actor, ticket)
    note = (note or "").strip()
    if not note:
        raise ComplaintError(_("请填写说明"), code="empty_note", field="note")
    now = timezone.now()
    change = _record(ticket, kind=TicketChange.Kind.NOTE, actor=actor, at=now, note=note, public=public,
                     from_state=ticket.state)
    fields = ["last_change", "updated_at"]
    if public and ticket.responded_at is None:
        ticket.responded_at = now
        fields.append("responded_at")
    ticket.save(update_fields=fields)
    audit_record(action="ticket.noted", actor=actor, obj=ticket, changes={"public": [None, public]})
    if public:
        _notify_after_commit(ports.NOTICE_STATUS, ticket, change)
    return change


@transaction.atomic
def ticket_categorise(*, ticket: Ticket | int, category: Category | str, actor) -> Ticket:
    """Change a ticket's category: its deadlines are taken again from the new category's SLA,
    counted from when the ticket was received."""
    ticket = _locked(ticket)
    _check_scope(actor, ticket)
    category = _category(category)
    if category.pk == ticket.category_id:
        return ticket
    before = ticket.category.code
    ticket.category = category
    _snapshot(ticket, category)
    _record(ticket, kind=TicketChange.Kind.CATEGORISED, actor=actor, at=timezone.now(), from_state=ticket.state,
            note=f"{before} → {category.code}")
    ticket.save(update_fields=["category", "respond_by", "resolve_by", "warn_at", "escalate_city_at",
                               "last_change", "updated_at"])
    audit_record(action="ticket.categorised", actor=actor, obj=ticket, changes={"category": [before, category.code]})
    return ticket


@transaction.atomic
def ticket_escalate(*, ticket: Ticket | int, level: int, actor=None, note: str = "") -> Ticket:
    """督办: raise a ticket's supervision to ``level`` (warned → region's supervisor → city). A
    ticket is never taken down a level, and one already there is left as it is."""
    ticket = _locked(ticket)
    _check_scope(actor, ticket)
    if ticket.state not in workflow.OPEN_STATES and not ticket.review_requested:
        raise IllegalTransition(_("已办结的工单无需督办"), details={"state": ticket.state})
    if level <= ticket.escalation:
        return ticket
    before = ticket.escalation
    ticket.escalation = level
    kind = TicketChange.Kind.WARNED if level == Escalation.WARNED else TicketChange.Kind.ESCALATED
    change = _record(ticket, kind=kind, actor=actor, at=timezone.now(), from_state=ticket.state,
                     note=note or str(Escalation(level).label))
    ticket.save(update_fields=["escalation", "last_change", "updated_at"])
    audit_record(action="ticket.warned" if level == Escalation.WARNED else "ticket.escalated", actor=actor,
                 obj=ticket, changes={"escalation": [before, level]})
    _notify_after_commit(ports.NOTICE_WARNING if level == Escalation.WARNED else ports.NOTICE_ESCALATION,
                         ticket, change)
    return ticket


@transaction.atomic
def ticket_rate(*, ticket: Ticket, score: int, comment: str = "") -> Ticket:
    """The caller's 1–5 rating, once, after the ticket is resolved. A 1 or 2 reopens it (while it
    may still be reopened) for review by the region's supervisor."""
    ticket = _locked(ticket)
    # Rated first: a low rating reopens the ticket, and a second rating is still "already rated".
    if ticket.rating is not None:
        raise AlreadyRated(_("该工单已评价"))
    if ticket.state not in workflow.RATEABLE_STATES:
        raise NotRateable(_("工单办结后才能评价"))
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ComplaintError(_("评分为1–5的整数"), code="invalid", field="score")
    now = timezone.now()
    ticket.rating, ticket.rating_comment, ticket.rated_at = score, (comment or "").strip()[:500], now
    _record(ticket, kind=TicketChange.Kind.RATED, actor=None, at=now, from_state=ticket.state,
            note=f"{score}/5 {ticket.rating_comment}".strip())
    fields = ["rating", "rating_comment", "rated_at", "last_change", "updated_at"]
    if score <= 2:
        ticket.review_requested = True
        fields.append("review_requested")
    ticket.save(update_fields=fields)
    if score <= 2:
        try:
            workflow.check_move(state=ticket.state, target=workflow.REOPENED, resolved_at=ticket.resolved_at, now=now)
        except ComplaintError:
            pass  # closed, or past the window: the supervisor reviews it without reopening
        else:
            ticket_transition(ticket=ticket, target=workflow.REOPENED, actor=None, public=True,
                              note=_("市民评价不满意，工单重启复核"))
        ticket_escalate(ticket=ticket, level=Escalation.REGION, note=_("市民评价不满意，请督办复核"))
        ticket.refresh_from_db()
    return ticket


def tickets_supervise(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic 督办 pass: warn units before the deadline, escalate overdue tickets to the
    region's supervisor and later to the city, and close tickets resolved more than 7 days ago."""
    now = now or timezone.now()
    counts = {"dispatched": 0, "warned": 0, "region": 0, "city": 0, "closed": 0}
    # A ticket whose dispatch after commit never ran (a broker fault, a failing task) is routed now.
    stranded = Ticket.objects.filter(state=workflow.RECEIVED, unit__isnull=True,
                                     created_at__lte=now - DISPATCH_GRACE).values_list("pk", flat=True)
    for pk in stranded:
        if ticket_dispatch(ticket=pk).state == workflow.DISPATCHED:
            counts["dispatched"] += 1
    open_rows = Ticket.objects.filter(state__in=workflow.OPEN_STATES)
    for pk in open_rows.filter(escalation__lt=Escalation.CITY, escalate_city_at__lte=now).values_list("pk", flat=True):
        ticket_escalate(ticket=pk, level=Escalation.CITY, note=_("超期未办结，升级市级督办"))
        counts["city"] += 1
    overdue = open_rows.filter(escalation__lt=Escalation.REGION).filter(
        _overdue_q(now)).values_list("pk", flat=True)
    for pk in overdue:
        ticket_escalate(ticket=pk, level=Escalation.REGION, note=_("已超期，区级督办"))
        counts["region"] += 1
    for pk in open_rows.filter(escalation__lt=Escalation.WARNED, warn_at__lte=now,
                               resolve_by__gt=now).values_list("pk", flat=True):
        ticket_escalate(ticket=pk, level=Escalation.WARNED, note=_("即将到期，请抓紧办理"))
        counts["warned"] += 1
    stale = Ticket.objects.filter(state=workflow.RESOLVED, resolved_at__lt=now - workflow.REOPEN_WINDOW)
    for pk in stale.values_list("pk", flat=True):
        ticket_transition(ticket=pk, target=workflow.CLOSED, actor=None, public=True, note=_("办结满7天，自动关闭"))
        counts["closed"] += 1
    return counts


def _overdue_q(now: datetime) -> Q:
    return Q(resolve_by__lt=now) | Q(responded_at__isnull=True, respond_by__lt=now)


@transaction.atomic
def ticket_start_refund(*, ticket: Ticket | int, actor) -> Ticket:
    """A fee dispute about a known stay asks payments for a refund (through the refund port)."""
    ticket = _locked(ticket)
    _check_scope(actor, ticket)
    if ticket.category.code not in FEE_CATEGORIES or ticket.session_id is None:
        raise NotAFeeDispute(_("只有关联了停车记录的收费类工单才能申请退款"))
    starter = ports.refund_starter()
    if starter is None:
        raise RefundsUnavailable(_("退款功能尚未开通"))
    if ticket.refund_ref:
        raise ComplaintError(_("该工单已申请退款：{ref}").format(ref=ticket.refund_ref), code="refund_started",
                             status=409)
    ticket.refund_ref = str(starter(ticket=ticket, session=ticket.session, actor=actor))[:64]
    _record(ticket, kind=TicketChange.Kind.NOTE, actor=actor, at=timezone.now(), from_state=ticket.state,
            note=_("已发起退款申请 {ref}").format(ref=ticket.refund_ref))
    ticket.save(update_fields=["refund_ref", "last_change", "updated_at"])
    audit_record(action="ticket.refund_started", actor=actor, obj=ticket,
                 changes={"refund_ref": ["", ticket.refund_ref]})
    return ticket


# -- Open311 keys ---------------------------------------------------------------------------------
def _key_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


@transaction.atomic
def open311_key_issue(*, name: str, actor=None) -> tuple[Open311Key, str]:
    """A new partner key; the plain key is returned once and only its hash is kept."""
    name = (name or "").strip()
    if not name:
        raise ComplaintError(_("请填写接入方名称"), code="invalid", field="name")
    plain = "o311_" + secrets.token_urlsafe(32)
    key = Open311Key.objects.create(name=name[:128], prefix=plain[5:11], key_hash=_key_hash(plain))
    audit_record(action="open311_key.issued", actor=actor, obj=key, changes={"name": [None, key.name]})
    return key, plain


def open311_key_find(plain: str | None) -> Open311Key | None:
    if not plain:
        return None
    return Open311Key.objects.filter(key_hash=_key_hash(plain.strip()), revoked_at__isnull=True).first()


@transaction.atomic
def open311_key_revoke(*, key: Open311Key, actor) -> Open311Key:
    key = Open311Key.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(action="open311_key.revoked", actor=actor, obj=key, changes={"revoked_at": [None, key.revoked_at]})
    return key


# -- the city's 12345 line ------------------------------------------------------------------------
#: 12345 export columns → our fields
COLUMNS_12345 = {
    "工单编号": "external_id", "受理时间": "received_at", "诉求类别": "category", "诉求内容": "description",
    "来电号码": "phone", "联系人": "caller_name", "地址": "address", "停车场编码": "lot", "车牌": "plate",
}


def category_for_12345(name: str, categories: Iterable[Category]) -> Category:
    name = (name or "").strip()
    fallback = None
    for category in categories:
        names = {n.strip() for n in category.names_12345.replace("，", ",").split(",") if n.strip()}
        if name and (name in names or name == category.name):
            return category
        if category.code == "other":
            fallback = category
    if fallback is None:
        raise UnknownCategory(_("没有“其他”类别，无法映射 12345 类别：{name}").format(name=name))
    return fallback


def tickets_import_12345(*, rows: Iterable[Mapping[str, str]], actor=None) -> dict[str, object]:
    """Import the 12345 line's export: each row becomes a ticket of channel ``12345`` with its
    category mapped; a row whose 12345 ticket id is already here is skipped; a bad row is
    reported with its line number and the others still import."""
    categories = list(Category.objects.filter(active=True))
    seen = set(Ticket.objects.filter(channel=Channel.CITY_12345).values_list("external_id", flat=True))
    created, skipped, errors = 0, 0, []
    for line, raw in enumerate(rows, start=2):
        row = {COLUMNS_12345.get(key.strip(), key.strip()): (value or "").strip() for key, value in raw.items() if key}
        external_id = row.get("external_id", "")
        if not external_id:
            errors.append({"line": line, "code": "invalid", "message": _("缺少工单编号")})
            continue
        if external_id in seen:
            skipped += 1
            continue
        try:
            received_at = _import_time(row.get("received_at", ""))
            with transaction.atomic():
                ticket_create(channel=Channel.CITY_12345, external_id=external_id,
                              category=category_for_12345(row.get("category", ""), categories),
                              description=row.get("description", ""), phone=row.get("phone", ""),
                              caller_name=row.get("caller_name", ""), address=row.get("address", ""),
                              lot=row.get("lot") or None, plate=row.get("plate") or "", received_at=received_at,
                              actor=actor)
        except ComplaintError as exc:
            errors.append({"line": line, "code": exc.code, "message": exc.message})
            continue
        except plates.PlateError as exc:
            errors.append({"line": line, "code": exc.code, "message": exc.message})
            continue
        seen.add(external_id)
        created += 1
    return {"created": created, "skipped": skipped, "errors": errors}


def _import_time(value: str) -> datetime | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return timezone.make_aware(datetime.strptime(value, fmt))
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ComplaintError(_("无法识别的受理时间：{value}").format(value=value[:32]), code="invalid",
                             field="received_at") from exc
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


# -- rules staff edit -----------------------------------------------------------------------------
_RULE_ACTIONS = {Category: "category", DispatchRule: "dispatch_rule", LocalDay: "local_day", Unit: "unit"}


@transaction.atomic
def rule_save(*, obj: Category | DispatchRule | LocalDay | Unit, actor) -> Category | DispatchRule | LocalDay | Unit:
    """Save a row of the hotline's rules (an SLA, a dispatch rule, a local working day, a unit).
    A deadline already stored on a ticket is a snapshot: editing the SLA does not move it."""
    if user_of(actor) is not None and hasattr(type(obj), "scope_paths") and not may_change(actor, obj):
        raise OutOfScope(_("只能在本人负责的区域或经营单位范围内保存"))
    fields = [f.name for f in obj._meta.concrete_fields if not f.primary_key]
    before = {}
    if obj.pk is not None:
        stored = type(obj)._default_manager.select_for_update().filter(pk=obj.pk).first()
        if stored is not None:
            before = field_values(stored, fields)
    obj.full_clean()
    obj.save()
    name = _RULE_ACTIONS[type(obj)]
    audit_record(action=f"{name}.changed" if before else f"{name}.created", actor=actor, obj=obj,
                 changes=diff(before, field_values(obj, fields)))
    return obj
