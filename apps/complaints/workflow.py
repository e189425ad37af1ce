"""The ticket's workflow as data (STYLE.md "Workflows are data"): its states, the moves allowed
between them and the conditions a move needs. ``check_move`` is the one place that judges a move;
the services call it and nothing else decides."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

from .errors import IllegalTransition, ReasonRequired, ReopenWindowPassed

RECEIVED = "received"
DISPATCHED = "dispatched"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
CLOSED = "closed"
REOPENED = "reopened"
REJECTED = "rejected"

#: SPEC §8.2's states, in the order a ticket usually passes them, with their labels
STATES = (
    (RECEIVED, _("已受理")),
    (DISPATCHED, _("已派单")),
    (IN_PROGRESS, _("办理中")),
    (RESOLVED, _("已办结")),
    (CLOSED, _("已关闭")),
    (REOPENED, _("已重启")),
    (REJECTED, _("不予受理")),
)

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    RECEIVED: frozenset({DISPATCHED, REJECTED}),
    DISPATCHED: frozenset({IN_PROGRESS, REJECTED}),
    IN_PROGRESS: frozenset({RESOLVED}),
    RESOLVED: frozenset({CLOSED, REOPENED}),
    REOPENED: frozenset({DISPATCHED, IN_PROGRESS}),
    CLOSED: frozenset(),
    REJECTED: frozenset(),
}

#: states in which the unit still owes the caller an answer (deadlines are watched)
OPEN_STATES = frozenset({RECEIVED, DISPATCHED, IN_PROGRESS, REOPENED})
#: states whose work is done (Open311's "closed")
DONE_STATES = frozenset({RESOLVED, CLOSED, REJECTED})
#: states a citizen may rate
RATEABLE_STATES = frozenset({RESOLVED, CLOSED})

#: a resolved ticket may be reopened this long after it was resolved; after that it is closed
REOPEN_WINDOW = timedelta(days=7)

REJECT_DUPLICATE = "duplicate"
REJECT_OUT_OF_SCOPE = "out_of_scope"
REJECT_REASONS = (
    (REJECT_DUPLICATE, _("重复诉求")),
    (REJECT_OUT_OF_SCOPE, _("不属于受理范围")),
)

#: moves that need a reason code (from ``REASONS[target]``) to be given
REASONS: dict[str, frozenset[str]] = {
    REJECTED: frozenset(code for code, _label in REJECT_REASONS),
}


def allowed_moves(state: str) -> frozenset[str]:
    return ALLOWED_TRANSITIONS.get(state, frozenset())


def check_move(*, state: str, target: str, reason: str = "", resolved_at: datetime | None = None,
               now: datetime) -> None:
    """Refuse a move the table does not allow, or one whose condition does not hold."""
    if target not in allowed_moves(state):
        raise IllegalTransition(
            _("工单状态为“{state}”，不能改为“{target}”").format(state=label(state), target=label(target)),
            details={"state": state, "target": target, "allowed": sorted(allowed_moves(state))})
    if target in REASONS and reason not in REASONS[target]:
        raise ReasonRequired(_("请选择原因：{choices}").format(choices="、".join(sorted(REASONS[target]))),
                             field="reason", details={"allowed": sorted(REASONS[target])})
    if state == RESOLVED and target == REOPENED and (resolved_at is None or now - resolved_at > REOPEN_WINDOW):
        raise ReopenWindowPassed(_("办结超过7天的工单不能重启"))


def label(state: str) -> str:
    return str(dict(STATES).get(state, state))
