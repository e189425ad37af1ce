"""Raising supervision cases: each rule's run finds the lots at fault (one query for all lots),
raises a case for each new episode, notes that the others go on, and records the end of those
it no longer finds. Then cases whose cause has been gone for the rule's quiet period close.

Never twice for one episode: the database allows one case per lot and rule whose cause has not
ended (``one_open_case_per_lot_rule``), a run of a rule holds that rule's row lock, and inserts
that would break the constraint are dropped. An episode's end is the run that no longer finds
it, or what the rule knows better (an outage's own end). Every write is in bulk: a run costs a
fixed number of statements whatever the number of lots."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from ..models import CaseChange, SupervisionCase, SupervisionRule
from . import workflow
from .detectors import DETECTORS, EPISODE_ENDS, iso

logger = logging.getLogger(__name__)


def point_at_newest(case_ids) -> None:
    """Point each case at its newest change (one UPDATE)."""
    newest = CaseChange.objects.filter(case=OuterRef("pk")).order_by("-at", "-pk").values("pk")[:1]
    SupervisionCase.objects.filter(pk__in=list(case_ids)).update(last_change=Subquery(newest))


def evidence_for(rule: SupervisionRule, numbers: dict, *, now: datetime) -> dict:
    numbers = dict(numbers)
    return {"rule": rule.code, "episode": numbers.pop("episode", None), "detected_at": iso(now),
            "thresholds": rule.numbers(), "numbers": numbers, "resolved_at": None}


def rules_run(*, now: datetime) -> dict[str, dict[str, int]]:
    """Run every enabled rule, then the quiet-period close. A rule that fails is logged and the
    others still run (its cases are untouched until its next run)."""
    result: dict[str, dict[str, int]] = {}
    for rule in SupervisionRule.objects.order_by("code"):
        try:
            result[rule.code] = rule_run(rule=rule, now=now)
        except Exception:  # one broken rule must not stop the city's other rules
            logger.exception("supervision rule %s failed", rule.code)
    result["auto_closed"] = {"closed": cases_autoclose(now=now)}
    return result


@transaction.atomic
def rule_run(*, rule: SupervisionRule, now: datetime) -> dict[str, int]:
    """One run of one rule: raise, continue and end its episodes. A disabled rule finds nothing
    and changes nothing: its open episodes wait for it to be enabled again."""
    rule = SupervisionRule.objects.select_for_update().get(pk=rule.pk)  # one run of a rule at a time
    if not rule.enabled:
        return {"raised": 0, "continuing": 0, "ended": 0}
    findings = DETECTORS[rule.code](rule, now=now)
    ongoing, ended = [], []
    seen_lots = set()
    for pk, lot_id, evidence in SupervisionCase.objects.filter(rule=rule, ended_at__isnull=True).values_list(
            "pk", "lot_id", "evidence"):
        found = findings.get(lot_id)
        if found is not None and found.get("episode") == (evidence or {}).get("episode"):
            ongoing.append(pk)
            seen_lots.add(lot_id)
        else:
            ended.append(pk)
    _end(rule, ended, now=now)
    if ongoing:
        SupervisionCase.objects.filter(pk__in=ongoing).update(last_detected_at=now)
    raised = _raise(rule, {lot: numbers for lot, numbers in findings.items() if lot not in seen_lots}, now=now)
    return {"raised": raised, "continuing": len(ongoing), "ended": len(ended)}


def _raise(rule: SupervisionRule, findings: dict[int, dict], *, now: datetime) -> int:
    if not findings:
        return 0
    due = now + timedelta(hours=rule.due_hours)
    SupervisionCase.objects.bulk_create(
        [SupervisionCase(lot_id=lot, rule=rule, state=workflow.OPEN, raised_at=now, last_detected_at=now, due_at=due,
                         evidence=evidence_for(rule, numbers, now=now)) for lot, numbers in findings.items()],
        ignore_conflicts=True)  # an episode already open (a concurrent run) is not raised again
    created = list(SupervisionCase.objects.filter(rule=rule, lot_id__in=list(findings), raised_at=now,
                                                  ended_at__isnull=True).values_list("pk", flat=True))
    CaseChange.objects.bulk_create([CaseChange(case_id=pk, kind=CaseChange.Kind.RAISED, state=workflow.OPEN,
                                               note=_("规则发现问题，自动立案"), at=now) for pk in created])
    point_at_newest(created)
    return len(created)


def _end(rule: SupervisionRule, case_ids: list[int], *, now: datetime) -> None:
    if not case_ids:
        return
    cases = list(SupervisionCase.objects.filter(pk__in=case_ids).only("pk", "state", "evidence", "ended_at"))
    known = EPISODE_ENDS.get(rule.code)
    ends = known([(c.evidence or {}).get("episode") for c in cases]) if known else {}
    for case in cases:
        ended_at = ends.get((case.evidence or {}).get("episode")) or now
        case.ended_at = ended_at
        case.evidence = {**(case.evidence or {}), "resolved_at": iso(ended_at)}
    SupervisionCase.objects.bulk_update(cases, ["ended_at", "evidence"], batch_size=1000)
    CaseChange.objects.bulk_create([CaseChange(case_id=c.pk, kind=CaseChange.Kind.CAUSE_ENDED, state=c.state,
                                               note=_("规则不再发现该问题"), at=c.ended_at) for c in cases])
    point_at_newest(case_ids)


def cases_autoclose(*, now: datetime) -> int:
    """Close the active cases whose cause ended at least their rule's ``quiet_hours`` ago (0: never).
    A case a member of staff is moving right now (its row locked) waits for the next run."""
    closed = 0
    for rule in SupervisionRule.objects.filter(quiet_hours__gt=0):
        with transaction.atomic():
            rows = list(SupervisionCase.objects.select_for_update(skip_locked=True)
                        .filter(rule=rule, state__in=workflow.ACTIVE_STATES,
                                ended_at__lte=now - timedelta(hours=rule.quiet_hours))
                        .values_list("pk", "state"))
            if not rows:
                continue
            ids = [pk for pk, _state in rows]
            note = _("问题消除后{hours}小时未再出现，自动结案").format(hours=rule.quiet_hours)
            CaseChange.objects.bulk_create([
                CaseChange(case_id=pk, kind=CaseChange.Kind.AUTO_CLOSED, from_state=state, state=workflow.CLOSED,
                           note=note, at=now) for pk, state in rows])
            SupervisionCase.objects.filter(pk__in=ids).update(state=workflow.CLOSED, closed_at=now)
            point_at_newest(ids)
            closed += len(ids)
    return closed
