"""Database connections opened while Playwright's sync API is running.

Playwright's sync API runs the test in a greenlet of its own, with its own context: Django keeps a
connection per context (``asgiref.local.Local``), so an ORM call in such a test's body opens a second
connection to the test database, drawn from the pool and never handed back. Django's teardown
closes only pytest's own, and then cannot drop the test database ("being accessed by other users").
A fixture that starts Playwright closes that context's connections before it stops it.
"""

from __future__ import annotations

import os

from django.db import connections


def close_connections_of_this_context() -> None:
    """Close the connections this context opened, if it opened any. Django refuses to close one
    while an event loop runs in the thread (Playwright's does), unless told that is safe: it is,
    nothing else runs in this thread meanwhile. The test's own setting is put back as it was."""
    opened = [conn for conn in connections.all(initialized_only=True) if conn.connection is not None]
    if not opened:
        return
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        for conn in opened:
            conn.close()
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before
