"""The registry of payment channels. Each provider module registers its class at import; the
payments app imports the modules in ``ready()``. Callers ask by ``code``::

    provider = providers.get("wechat")      # KeyError for an unknown code
    providers.citizen_channels()            # configured channels a payer may choose
"""

from __future__ import annotations

from .base import PaymentProvider

_registry: dict[str, type[PaymentProvider]] = {}


def register(cls: type[PaymentProvider]) -> type[PaymentProvider]:
    """Class decorator. Registering a code again replaces it (a reload, or a test's double)."""
    if not cls.code:
        raise ValueError(f"{cls.__name__} has no code")
    _registry[cls.code] = cls
    return cls


def unregister(code: str) -> None:
    _registry.pop(code, None)


def get(code: str) -> PaymentProvider:
    """A fresh provider for ``code``: settings are read when it is made, so a test's override holds."""
    return _registry[code]()


def codes() -> list[str]:
    return sorted(_registry)


def citizen_channels() -> list[str]:
    """The channels a payer may order through now: citizen-facing and configured."""
    return [code for code in codes() if _registry[code].citizen_channel and get(code).is_configured()]
