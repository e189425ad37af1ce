"""Which plates a citizen has bound (SPEC §8: up to 3, bound through the WeChat account).

Plate binding is the WeChat work's (``apps.wechat``, DESIGN.md), which sits above payments,
reservations and the hotline; they ask through this port and never import it. ``apps.wechat``
registers its answer in ``AppConfig.ready()`` with ``register_bound_plates``. With nothing
registered no citizen has a bound plate, so what needs one (paying arrears, ``/me/`` lists) is
refused or empty rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable

BoundPlates = Callable[[object], list[str]]

_resolver: BoundPlates | None = None


def register_bound_plates(resolver: BoundPlates | None) -> None:
    """``resolver(user)`` returns that user's bound plates, normalised (SPEC §2). ``None`` removes it."""
    global _resolver
    _resolver = resolver


def bound_plates(user) -> list[str]:
    if user is None or not getattr(user, "is_authenticated", False) or _resolver is None:
        return []
    return list(_resolver(user))


# The citizen's openid with the merchant's app, for WeChat Pay's JSAPI inside WeChat (SPEC §8.1 ``pay``).
# ``apps.wechat`` registers it with its login; with nothing registered no openid is known, and a
# WeChat order is Native (``code_url``).
PayerOpenid = Callable[[object], str]

_openid_resolver: PayerOpenid | None = None


def register_payer_openid(resolver: PayerOpenid | None) -> None:
    global _openid_resolver
    _openid_resolver = resolver


def payer_openid(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False) or _openid_resolver is None:
        return ""
    return _openid_resolver(user) or ""
