"""Run the periodic tasks in one small process: the embedded default's Celery beat.

It reads ``settings.CELERY_BEAT_SCHEDULE`` (the list Celery beat uses in production), imports each
task by its dotted name and calls it in this process when it is due. A task that fails is logged
and tried again at its next time; the scheduler keeps going.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import UTC, datetime

from celery.schedules import maybe_schedule
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

MAX_SLEEP_S = 1.0


class Command(BaseCommand):
    help = "Run CELERY_BEAT_SCHEDULE's tasks in this process (the embedded default; production uses Celery beat)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every task once, then exit")

    def handle(self, *args, once: bool = False, **options):
        entries = self.load(settings.CELERY_BEAT_SCHEDULE)
        if once:
            for name, task, _schedule in entries:
                self.run_task(name, task)
            return
        self.stopping = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.stop)
        last_run: dict[str, datetime] = {}
        self.stdout.write(f"scheduler: {', '.join(name for name, _, _ in entries)}")
        while not self.stopping:
            wait = MAX_SLEEP_S
            for name, task, schedule in entries:
                previous = last_run.get(name)
                due, next_in = (True, MAX_SLEEP_S) if previous is None else schedule.is_due(previous)
                if due:
                    last_run[name] = datetime.now(UTC)
                    self.run_task(name, task)
                wait = min(wait, max(next_in, 0.0))
            time.sleep(wait)

    def stop(self, signum, frame):
        self.stopping = True

    @staticmethod
    def load(schedule: dict) -> list:
        entries = []
        for name, entry in schedule.items():
            try:
                task = import_string(entry["task"])
            except ImportError as exc:
                raise CommandError(f"{name}: cannot import task {entry['task']}: {exc}") from exc
            entries.append((name, task, maybe_schedule(entry["schedule"])))
        return entries

    def run_task(self, name: str, task) -> None:
        # A long-lived process must drop broken or expired connections between tasks, as Celery's
        # worker does; a connection inside a caller's transaction (a test) is not ours to recycle.
        if not connection.in_atomic_block:
            close_old_connections()
        try:
            result = task()  # a Celery task called directly runs here, synchronously
        except Exception:  # a failing task must not stop the others
            logger.exception("scheduled task %s failed", name)
            return
        logger.info("scheduled task %s: %s", name, result)
