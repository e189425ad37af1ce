"""Issue a device key for one or more lots and print it once, as one JSON line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import DomainError
from apps.lots.models import Device, ParkingLot
from apps.lots.services import device_issue


class Command(BaseCommand):
    help = 'Issue an access key and secret for lots: prints {"access_key": ..., "secret": ...} once.'

    def add_arguments(self, parser):
        parser.add_argument("--lot", action="append", required=True, dest="lots", metavar="CODE",
                            help="lot code the device may report for (repeat for several lots)")
        parser.add_argument("--name", default="", help="device name shown in the admin")
        parser.add_argument("--kind", default=Device.Kind.LOT_SYSTEM, choices=Device.Kind.values)

    def handle(self, *args, lots, name, kind, **options):
        codes = list(dict.fromkeys(code.strip().upper() for code in lots))
        found = {lot.code: lot for lot in ParkingLot.objects.filter(code__in=codes)}
        unknown = [code for code in codes if code not in found]
        if unknown:
            raise CommandError(f"unknown lot code(s): {', '.join(unknown)}")
        try:
            device, secret = device_issue(name=name or f"{codes[0]} 接入", kind=kind,
                                          lots=[found[c] for c in codes])
        except DomainError as exc:
            raise CommandError(exc.message)
        self.stdout.write(json.dumps({"access_key": device.access_key, "secret": secret}))
