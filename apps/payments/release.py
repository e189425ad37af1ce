"""The payments app's answer to the sessions release port (``apps.sessions.release``): a plate
with an active payment agreement (无感支付) leaves first and is charged afterwards, so its due
becomes arrears that the agreement's charge settles. One query per batch."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q

from apps.sessions import release

from .models import PaymentAgreement

AGREEMENT_RULE = "payment_agreement"


class AgreementCover:
    name = "payment_agreements"

    def at_entry(self, entries: Sequence[release.EntryQuery]) -> None:
        return None

    def at_exit(self, exits: Sequence[release.ExitQuery]) -> dict[release.ExitQuery, release.Cover]:
        plates = {e.plate for e in exits if e.plate}
        if not plates:
            return {}
        lot_ids = {e.lot_id for e in exits}
        # (plate, a lot of the agreement's operator or None for a city-wide one, agreement id)
        rows = (PaymentAgreement.objects.filter(state=PaymentAgreement.State.ACTIVE, plate__in=plates)
                .filter(Q(operator__isnull=True) | Q(operator__lots__in=lot_ids))
                .values_list("plate", "operator__lots", "pk").order_by("pk"))
        found: dict[tuple[str, int | None], int] = {}
        for plate, lot_id, pk in rows:
            found.setdefault((plate, lot_id), pk)
        covers = {}
        for query in exits:
            agreement = found.get((query.plate, None)) or found.get((query.plate, query.lot_id))
            if agreement is not None:
                covers[query] = release.Cover(release.Reason.PAY_LATER, release.ARREARS, AGREEMENT_RULE,
                                              reference=f"agreement:{agreement}")
        if covers:
            # The charges go after the batch commits (its arrears records exist then), by a task.
            transaction.on_commit(_charge_later)
        return covers


def _charge_later() -> None:
    from .tasks import charge_agreements

    charge_agreements.delay()
