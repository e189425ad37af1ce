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


class ImportStale(DomainError):
    """What an import would write is no longer what staff previewed and confirmed."""

    code = "import_stale"
    status = 409
