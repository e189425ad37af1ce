"""The one check of a tariff's rules, for every path that saves or uses one.

The rules are what the fee engine accepts (SPEC §6 rule 8): ``fees.validate_rules`` is the engine's
own check, so nothing here restates a rule. This module only turns the engine's refusal into the
platform's ``invalid_tariff`` error, worded the same whoever asked: the admin form (through
``Tariff.clean``), ``services.tariff_save``, ``Tariff.save`` for code that writes the ORM directly,
the demo seed, and the fee quote when a stored tariff turns out to be one the engine refuses.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from . import fees
from .errors import InvalidTariff


def tariff_rules_error(exc: fees.TariffError, **kwargs) -> InvalidTariff:
    """The ``invalid_tariff`` error for the engine's refusal ``exc``. By default it points at the
    rule's path under ``rules`` (``rules.small.bands[1].end``); callers may say otherwise
    (``field="lot"`` for a quote, ``status=409`` for a tariff already stored)."""
    kwargs.setdefault("field", f"rules.{exc.field}" if exc.field else "rules")
    details = {"path": exc.field, "problem": exc.problem, **kwargs.pop("details", {})}
    return InvalidTariff(_("计费规则有误：%(error)s") % {"error": exc}, details=details, **kwargs)


def tariff_rules_check(rules: object) -> None:
    """Raise ``InvalidTariff`` unless the fee engine accepts ``rules``."""
    try:
        fees.validate_rules(rules)
    except fees.TariffError as exc:
        raise tariff_rules_error(exc) from exc
