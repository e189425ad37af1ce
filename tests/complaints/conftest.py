"""The seeded categories, also after a transactional test has flushed the database."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _categories(request):
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames or \
            request.node.get_closest_marker("django_db"):
        request.getfixturevalue("transactional_db" if _transactional(request) else "db")
        from apps.complaints.defaults import ensure
        from apps.complaints.models import Category

        ensure(Category)


def _transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture
def notices():
    """The notices the services send after commit, as (kind, ticket number, change)."""
    from apps.complaints import ports

    sent = []

    def record(kind, ticket, change):
        sent.append((kind, ticket.ticket_no, change))

    ports.register_notice_sender(record)
    yield sent
    ports.unregister_notice_sender(record)
