from apps.common.errors import DomainError


class LotError(DomainError):
    code = "invalid_lot"


class InvalidTariff(DomainError):
    code = "invalid_tariff"


class OutOfScope(DomainError):
    code = "out_of_scope"
    status = 403


class ImportFailed(DomainError):
    code = "import_failed"
