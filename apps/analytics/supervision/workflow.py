"""A supervision case's workflow as data (STYLE.md "Workflows are data"), the hotline's pattern
(``apps/complaints/workflow.py``): its states, the moves allowed between them and the conditions a
move needs. ``check_move`` is the one place that judges a move; the services call it.

Two clocks run on a case. The cause's (``ended_at``) is the system's: it is set when the rule no
longer finds the lot at fault. The work's (``state``) is staff's: they assign, work and close.
A case is closed only once its cause has ended (or by the quiet-period auto-close, which implies
it); a case raised by mistake is dismissed with a note, whatever its cause does."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .errors import CauseOngoing, IllegalTransition, NoteRequired

OPEN = "open"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
CLOSED = "closed"
DISMISSED = "dismissed"

STATES = (
    (OPEN, _("待处理")),
    (ASSIGNED, _("已指派")),
    (IN_PROGRESS, _("整改中")),
    (CLOSED, _("已结案")),
    (DISMISSED, _("不予立案")),
)

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OPEN: frozenset({ASSIGNED, CLOSED, DISMISSED}),
    ASSIGNED: frozenset({IN_PROGRESS, CLOSED, DISMISSED}),
    IN_PROGRESS: frozenset({CLOSED, DISMISSED}),
    CLOSED: frozenset(),
    DISMISSED: frozenset(),
}

#: states in which someone still owes the city an answer (overdue is judged on these)
ACTIVE_STATES = frozenset({OPEN, ASSIGNED, IN_PROGRESS})
DONE_STATES = frozenset({CLOSED, DISMISSED})

#: moves that need a written note
NOTE_REQUIRED = frozenset({DISMISSED})

#: the button label of each move, as staff read it
MOVE_LABELS = {
    ASSIGNED: _("指派"),
    IN_PROGRESS: _("开始整改"),
    CLOSED: _("结案"),
    DISMISSED: _("不予立案"),
}


def allowed_moves(state: str) -> frozenset[str]:
    return ALLOWED_TRANSITIONS.get(state, frozenset())


def check_move(*, state: str, target: str, cause_ended: bool, note: str = "") -> None:
    """Refuse a move the table does not allow, or one whose condition does not hold."""
    if target not in allowed_moves(state):
        raise IllegalTransition(
            _("督查案件状态为“{state}”，不能改为“{target}”").format(state=label(state), target=label(target)),
            details={"state": state, "target": target, "allowed": sorted(allowed_moves(state))})
    if target in NOTE_REQUIRED and not (note or "").strip():
        raise NoteRequired(_("请填写不予立案的理由"), field="note")
    if target == CLOSED and not cause_ended:
        raise CauseOngoing(_("问题仍在持续，不能结案；误报请选择不予立案"),
                           details={"state": state, "target": target})


def label(state: str) -> str:
    return str(dict(STATES).get(state, state))
