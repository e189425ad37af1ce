"""Issue an Open311 api_key for a partner and print it once, as one JSON line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import DomainError
from apps.complaints.services import open311_key_issue


class Command(BaseCommand):
    help = 'Issue an Open311 api_key: prints {"api_key": ...} once (only its hash is kept).'

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="the partner the key is for")

    def handle(self, *args, name, **options):
        try:
            _key, plain = open311_key_issue(name=name)
        except DomainError as exc:
            raise CommandError(exc.message)
        self.stdout.write(json.dumps({"api_key": plain}))
