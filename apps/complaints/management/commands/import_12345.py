"""Import the city 12345 line's export (CSV, UTF-8 with or without BOM): one ticket per row, its
category mapped, rows already imported (by 12345 ticket id) skipped. Prints one JSON line."""

from __future__ import annotations

import csv
import json

from django.core.management.base import BaseCommand, CommandError

from apps.complaints.services import tickets_import_12345


class Command(BaseCommand):
    help = "Import a 12345 export file (CSV): prints {\"created\", \"skipped\", \"errors\"}."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the CSV file exported from the 12345 system")

    def handle(self, *args, path, **options):
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                result = tickets_import_12345(rows=csv.DictReader(handle))
        except OSError as exc:
            raise CommandError(str(exc))
        self.stdout.write(json.dumps(result, ensure_ascii=False))
