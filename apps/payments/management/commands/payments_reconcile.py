"""``manage.py payments_reconcile --channel C --file F [--from D --to D]``: compare our paid orders
and refunds with a gateway's statement file and list every difference, one JSON object a line
(``kind``: missing_here, missing_there, amount_mismatch, refund_missing_here, refund_missing_there,
refund_amount_mismatch), then a summary. Exit status 1 when there is any difference."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import DomainError
from apps.payments import providers, settlement


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = "Compare our paid orders and refunds with a provider's statement file and list every difference."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, help="the provider's code (wechat, alipay, sandbox, ...)")
        parser.add_argument("--file", required=True, help="the statement file the provider issued")
        parser.add_argument("--from", dest="start", help="first day to compare (default: the file's first day)")
        parser.add_argument("--to", dest="end", help="last day to compare (default: the file's last day)")

    def handle(self, *args, channel, file, start=None, end=None, **options):
        try:
            provider = providers.get(channel)
        except KeyError:
            raise CommandError(f"unknown channel {channel!r}; known: {', '.join(providers.codes())}") from None
        try:
            with open(file, "rb") as handle:
                rows = provider.parse_statement(handle)
        except NotImplementedError:
            raise CommandError(f"channel {channel!r} cannot read statement files") from None
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        except ValueError as exc:
            raise CommandError(f"{file} is not a {channel} statement: {exc}") from exc
        try:
            found = settlement.reconcile(channel=channel, rows=rows, start=_day(start) if start else None,
                                         end=_day(end) if end else None)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        for difference in found:
            self.stdout.write(json.dumps(asdict(difference), ensure_ascii=False))
        self.stdout.write(json.dumps({"channel": channel, "rows": len(rows), "differences": len(found)}))
        if found:
            sys.exit(1)
