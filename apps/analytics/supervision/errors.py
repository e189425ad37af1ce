"""Supervision's refusals, each with a stable code (SPEC §1)."""

from __future__ import annotations

from apps.common.errors import DomainError


class SupervisionError(DomainError):
    code = "supervision_error"
    status = 400


class IllegalTransition(SupervisionError):
    code = "illegal_transition"
    status = 409


class NoteRequired(SupervisionError):
    code = "note_required"


class CauseOngoing(SupervisionError):
    code = "cause_ongoing"
    status = 409


class OutOfScope(SupervisionError):
    code = "forbidden"
    status = 403


class AssigneeOutOfScope(SupervisionError):
    code = "assignee_out_of_scope"


class InvalidRule(SupervisionError):
    code = "invalid_rule"
