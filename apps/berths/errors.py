from apps.common.errors import DomainError


class BerthError(DomainError):
    code = "invalid_berth"


class OutOfScope(DomainError):
    code = "out_of_scope"
    status = 403
