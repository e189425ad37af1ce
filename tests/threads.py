"""Running jobs in real threads released at the same moment, for the concurrency tests."""

from __future__ import annotations

import threading

from django.db import connection


def run_together(jobs):
    """Run the callables in threads released at the same moment; return their results, raise their errors."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list = []

    def run(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results
