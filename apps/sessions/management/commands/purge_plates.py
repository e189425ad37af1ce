"""``manage.py purge_plates``: hash the plates of settled stays past the retention period now.

The same work as the periodic ``purge-plates`` task (apps.sessions.retention); run it by hand to
catch up a backlog or after lowering SESSION_PLATE_RETENTION_DAYS."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.sessions.retention import purge_plates


class Command(BaseCommand):
    help = "Replace the plates of settled stays older than SESSION_PLATE_RETENTION_DAYS with salted hashes."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help=f"retention in days (default SESSION_PLATE_RETENTION_DAYS, "
                                 f"{settings.SESSION_PLATE_RETENTION_DAYS})")
        parser.add_argument("--batch-size", type=int, default=500, help="stays per batch (one transaction each)")
        parser.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")

    def handle(self, *args, days=None, batch_size=500, max_batches=None, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        result = purge_plates(days=days, batch_size=batch_size, max_batches=max_batches)
        self.stdout.write(json.dumps({"sessions": result.sessions, "events": result.events,
                                      "arrears": result.arrears, "batches": result.batches}))
