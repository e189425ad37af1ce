"""The refusals of the citizen's WeChat features, each with a stable code (SPEC §1)."""

from __future__ import annotations

from apps.common.errors import Conflict, DomainError, Forbidden, NotFound


class TooManyPlates(Conflict):
    code = "too_many_plates"


class PlateProofRequired(Conflict):
    """The plate is bound by another citizen: taking it over needs a recent payment's reference."""

    code = "plate_proof_required"


class PlateProofRejected(Forbidden):
    code = "plate_proof_rejected"


class PlateNotBound(NotFound):
    code = "not_found"


class WechatLoginFailed(DomainError):
    """WeChat refused the login code (expired, used, forged) or could not be asked."""

    code = "wechat_login_failed"
    status = 400


class WechatNotConfigured(DomainError):
    code = "wechat_not_configured"
    status = 503


class PlateNotVerified(Forbidden):
    """The plate is bound, but nothing shows the citizen drives it: the export (a movement trace)
    needs the proof SPEC §8 asks of a takeover — a recent payment's order number."""

    code = "plate_not_verified"
