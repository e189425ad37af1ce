"""Import-linter contract types for the layer contracts in ``.importlinter``.

DESIGN.md's house has apps that do not exist yet (payments, reservations, complaints, wechat). The
rules about them belong in the contract from the start, so they hold on the day the app lands, but
import-linter's own ``forbidden`` contract refuses to run while a forbidden module is missing.
``planned_forbidden`` is that contract plus one option, ``planned_modules``: forbidden modules named
there are skipped while they do not exist and checked as soon as they do. Any other missing module
is still an error, so a typo cannot silently turn a rule off.
"""

from __future__ import annotations

from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain import fields


class PlannedForbiddenContract(ForbiddenContract):
    """A forbidden contract whose ``planned_modules`` are only checked once they exist."""

    type_name = "planned_forbidden"

    planned_modules = fields.SetField(subfield=fields.ModuleField(), required=False)

    def check(self, graph, verbose):
        planned = {module.name for module in self.planned_modules or ()}
        unknown = planned - {expression.expression for expression in self.forbidden_modules}
        if unknown:
            raise ValueError(f"planned_modules must also be forbidden_modules: {', '.join(sorted(unknown))}")
        not_built = {name for name in planned if name not in graph.modules}
        self.forbidden_modules = {e for e in self.forbidden_modules if e.expression not in not_built}
        return super().check(graph, verbose)
