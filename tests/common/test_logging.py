"""Issue 6 item 12: a refused request logs one line, not a traceback; a server error keeps its."""

from __future__ import annotations

import io
import logging

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def console():
    """What the configured console handler writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console" or
                   any(type(f).__name__ == "OneLineRefusals" for f in h.filters))
    stream = io.StringIO()
    old = handler.setStream(stream)
    yield stream
    handler.setStream(old)


def test_a_permission_denied_page_logs_one_line(client, officer, city, console):
    from django.contrib.auth.models import Permission

    officer.user_permissions.add(*Permission.objects.filter(codename="view_user"))
    client.force_login(officer)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    lines = console.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    assert "Forbidden" in lines[0] and "/admin/auth/user/" in lines[0]
    assert "Traceback" not in console.getvalue()


def test_a_server_error_still_logs_its_traceback(console):
    logger = logging.getLogger("django.request")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.error("Internal Server Error: /x", exc_info=True, extra={"status_code": 500})
    assert "Traceback" in console.getvalue() and "boom" in console.getvalue()
