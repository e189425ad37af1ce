"""Arrears recovery (欠费追缴): a plate's arrears across the city, and the reminders that escalate
by the rules staff edit (``ReminderRule``): a notice, repeated notices, the masked public list, and
the owed operator's blacklist flag that its lot systems read on entry (staff may lift it).

``reminders_run`` is the periodic task's body. It reads every unpaid arrears record once (streamed,
a chunk of plates at a time), and for
each plate and each enabled rule looks at the records the rule covers (its region's lots, or the
city's): once the oldest is ``after_days`` old and they owe at least ``min_owed_fen``, the rule's
step is taken, once per episode (a notice is not sent twice for the same debts, a listing or flag
not raised twice). Paying ends it: a listing is taken down and a flag cleared on the next run, and
the flag lot systems read is checked against what is still owed at that very moment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.common import notices
from apps.common.actor import user_of
from apps.common.scope import may_change
from apps.sessions.models import Arrears

from .models import ArrearsListing, ArrearsReminder, Blacklist, ReminderRule
from .money_errors import BlacklistNotActive, InvalidReason, NotAllowed

Action = ReminderRule.Action


def plate_arrears(plate: str):
    """What ``plate`` owes across the city, oldest first, with the lot (and its region and operator)."""
    return (Arrears.objects.unpaid().filter(plate=plate).select_related("lot", "lot__region", "lot__operator")
            .annotate(owed_fen=F("amount_fen") - F("paid_fen")).order_by("created_at", "pk"))


@dataclass(frozen=True)
class Owed:
    """One unpaid arrears record, as the rules read it."""

    region_id: int
    operator_id: int | None
    created_at: datetime
    owed_fen: int


#: how many plates' arrears one pass of ``reminders_run`` holds at once (and reads their state for)
CHUNK_PLATES = 500


def _owing_chunks(chunk_plates: int):
    """Every unpaid arrears record, by plate, ``chunk_plates`` plates at a time: read with one
    streamed query (``iterator(chunk_size=...)``), never the whole table in memory."""
    rows = Arrears.objects.unpaid().order_by("plate", "pk").values_list(
        "plate", "lot__region_id", "lot__operator_id", "created_at", "amount_fen", "paid_fen")
    chunk: dict[str, list[Owed]] = {}
    for plate, region_id, operator_id, created_at, amount, paid in rows.iterator(chunk_size=chunk_plates * 4):
        if plate not in chunk and len(chunk) >= chunk_plates:
            yield chunk  # the rows come by plate: every plate in it is complete
            chunk = {}
        chunk.setdefault(plate, []).append(Owed(region_id, operator_id, created_at, amount - paid))
    if chunk:
        yield chunk


def _due(rule: ReminderRule, owed: list[Owed], now: datetime) -> list[Owed]:
    """The records that make ``rule`` apply, or [] when it does not (yet)."""
    covered = [o for o in owed if rule.region_id is None or o.region_id == rule.region_id]
    if not covered or sum(o.owed_fen for o in covered) < rule.min_owed_fen:
        return []
    if now - min(o.created_at for o in covered) < timedelta(days=rule.after_days):
        return []
    return covered


def reminders_run(*, now: datetime | None = None, chunk_plates: int | None = None) -> dict[str, int]:
    """Take every step the rules call for now, and end listings and flags of what was paid. The
    arrears are read a chunk of plates at a time, with one query a chunk for what was already done
    about those plates (reminders sent, listings, flags)."""
    now = now or timezone.now()
    rules = list(ReminderRule.objects.filter(enabled=True))
    counts = {"notices": 0, "listed": 0, "blacklisted": 0, "unlisted": 0, "cleared": 0}
    for owing in _owing_chunks(chunk_plates or CHUNK_PLATES):
        _remind_chunk(rules, owing, now=now, counts=counts)
    # Listings and flags of plates that owe nothing now (at that operator) end, in one UPDATE each.
    unpaid = Arrears.objects.unpaid()
    counts["unlisted"] = ArrearsListing.objects.filter(ended_at__isnull=True).exclude(
        plate__in=unpaid.values("plate")).update(ended_at=now)
    counts["cleared"] = Blacklist.objects.filter(state=Blacklist.State.ACTIVE).exclude(Exists(
        unpaid.filter(plate=OuterRef("plate"), lot__operator_id=OuterRef("operator_id")))).update(
        state=Blacklist.State.CLEARED, ended_at=now)
    return counts


def _remind_chunk(rules: list[ReminderRule], owing: dict[str, list[Owed]], *, now: datetime,
                  counts: dict[str, int]) -> None:
    plates = list(owing)
    done = ArrearsReminder.objects.filter(plate__in=plates).values("rule_id", "plate").annotate(at=Max("sent_at"))
    last_sent = {(row["rule_id"], row["plate"]): row["at"] for row in done}
    listed = set(ArrearsListing.objects.filter(ended_at__isnull=True, plate__in=plates).values_list("plate", flat=True))
    flags = Blacklist.objects.filter(plate__in=plates, state__in=[Blacklist.State.ACTIVE, Blacklist.State.LIFTED])
    flagged, lifted = set(), {}
    for plate, operator_id, state, ended_at in flags.values_list("plate", "operator_id", "state", "ended_at"):
        if state == Blacklist.State.ACTIVE:
            flagged.add((plate, operator_id))
        elif ended_at is not None and ((plate, operator_id) not in lifted or ended_at > lifted[(plate, operator_id)]):
            lifted[(plate, operator_id)] = ended_at  # the latest lift
    for plate, owed in owing.items():
        for rule in rules:
            covered = _due(rule, owed, now)
            if not covered:
                continue
            oldest = min(o.created_at for o in covered)
            if rule.action in (Action.NOTICE, Action.REPEAT):
                sent = last_sent.get((rule.pk, plate))
                again = rule.action == Action.REPEAT and rule.repeat_days and sent is not None and (
                    now - sent >= timedelta(days=rule.repeat_days))
                if sent is None or sent < oldest or again:
                    _remind(rule, plate, covered, oldest=oldest, now=now)
                    last_sent[(rule.pk, plate)] = now
                    counts["notices"] += 1
            elif rule.action == Action.PUBLIC_LIST and plate not in listed:
                if _create(ArrearsListing, plate=plate, rule=rule, listed_at=now):
                    listed.add(plate)
                    counts["listed"] += 1
            elif rule.action == Action.BLACKLIST:
                counts["blacklisted"] += _flag(rule, plate, covered, flagged=flagged, lifted=lifted, now=now)


def _create(model, **values) -> bool:
    try:
        with transaction.atomic():
            model.objects.create(**values)
    except IntegrityError:  # another run raised it first
        return False
    return True


def _remind(rule: ReminderRule, plate: str, covered: list[Owed], *, oldest: datetime, now: datetime) -> None:
    owed = sum(o.owed_fen for o in covered)
    with transaction.atomic():
        ArrearsReminder.objects.create(rule=rule, plate=plate, owed_fen=owed, arrears_count=len(covered),
                                       oldest_at=oldest, sent_at=now)
        notices.notify(kind=notices.ARREARS_REMINDER, plate=plate, url="/me/arrears",
                       data={"plate": plate, "owed_fen": owed, "count": len(covered),
                             "since": timezone.localtime(oldest).date().isoformat(), "step": rule.action})


def _flag(rule, plate, covered, *, flagged, lifted, now) -> int:
    """Raise the flag at each operator the plate owes under ``rule`` (each judged on its own lots)."""
    raised = 0
    by_operator: dict[int, list[Owed]] = defaultdict(list)
    for o in covered:
        if o.operator_id is not None:
            by_operator[o.operator_id].append(o)
    for operator_id, owed in by_operator.items():
        if (plate, operator_id) in flagged:
            continue
        if now - min(o.created_at for o in owed) < timedelta(days=rule.after_days) or (
                sum(o.owed_fen for o in owed) < rule.min_owed_fen):
            continue
        lifted_at = lifted.get((plate, operator_id))
        if lifted_at is not None and max(o.created_at for o in owed) <= lifted_at:
            continue  # staff lifted it: only arrears arising after the lift raise it again
        if _create(Blacklist, plate=plate, operator_id=operator_id, rule=rule, since=now):
            flagged.add((plate, operator_id))
            raised += 1
    return raised


def blacklist_lift(*, blacklist: Blacklist, actor, reason: str, now: datetime | None = None) -> Blacklist:
    """Staff lift an operator's flag on a plate, with a reason (audited). It is raised again only by
    arrears that arise after the lift."""
    if not reason or not reason.strip():
        raise InvalidReason(_("请填写解除黑名单的原因"), field="lift_reason")
    now = now or timezone.now()
    with transaction.atomic():
        locked = Blacklist.objects.select_for_update().get(pk=blacklist.pk)
        if user_of(actor) is None or not may_change(actor, locked):
            raise NotAllowed(_("只能解除本人负责的经营单位的黑名单"))
        if locked.state != Blacklist.State.ACTIVE:
            raise BlacklistNotActive(_("该黑名单已不在生效状态"), details={"state": locked.state})
        locked.state, locked.ended_at, locked.lift_reason = Blacklist.State.LIFTED, now, reason.strip()[:255]
        user = user_of(actor)
        locked.lifted_by = user if getattr(user, "pk", None) else None
        locked.save(update_fields=["state", "ended_at", "lift_reason", "lifted_by"])
        audit_record(action="blacklist.lifted", actor=actor, obj=locked,
                     changes={"state": ["active", "lifted"], "lift_reason": ["", locked.lift_reason]})
    return locked


# -- what lot systems and the public read ---------------------------------------------------------

@dataclass(frozen=True)
class Flag:
    plate: str
    since: datetime
    owed_fen: int


def blacklist_for_lot(*, lot, plate: str | None = None) -> list[Flag]:
    """The plates flagged by ``lot``'s operator that still owe at its lots (one plate, or all)."""
    if lot.operator_id is None:
        return []
    flags = Blacklist.objects.filter(operator_id=lot.operator_id, state=Blacklist.State.ACTIVE)
    if plate is not None:
        flags = flags.filter(plate=plate)
    since = dict(flags.values_list("plate", "since"))
    if not since:
        return []
    owed = dict(Arrears.objects.unpaid().filter(lot__operator_id=lot.operator_id, plate__in=list(since))
                .values("plate").annotate(owed=Sum(F("amount_fen") - F("paid_fen"))).values_list("plate", "owed"))
    return [Flag(p, since[p], owed[p]) for p in sorted(since) if owed.get(p, 0) > 0]


def public_list():
    """The plates on the public list that still owe: ``(plate, since, owed_fen, count)``, oldest first."""
    plates = ArrearsListing.objects.filter(ended_at__isnull=True).values("plate")
    return (Arrears.objects.unpaid().filter(plate__in=plates).values("plate")
            .annotate(since=Min("created_at"), owed=Sum(F("amount_fen") - F("paid_fen")), count=Count("pk"))
            .order_by("since", "plate"))
