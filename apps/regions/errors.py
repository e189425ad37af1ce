from apps.common.errors import DomainError


class RegistryError(DomainError):
    code = "invalid_registry_entry"


class OutOfScope(DomainError):
    code = "out_of_scope"
    status = 403
