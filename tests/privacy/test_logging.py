"""Issue 12 item 4: no log line carries a full plate — message, extra fields, traceback, escaped paths."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import quote

import pytest

from apps.common.logging import JsonFormatter, MaskPlates, mask_plates

PLATES = ["苏B12345", "苏BD12345", "苏B12345D", "苏B1234学", "WJ苏12345", "使123456", "123456使", "苏B12345应急",
          "京a8k3p9"]


@pytest.fixture
def console():
    """What the configured console handler writes (the settings' own filters and formatter)."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, MaskPlates) for f in h.filters))
    stream = io.StringIO()
    old = handler.setStream(stream)
    yield stream
    handler.setStream(old)


@pytest.mark.parametrize("plate", PLATES)
def test_every_plate_form_is_masked_in_text_and_url_escaped(plate):
    from apps.common import plates

    masked = plates.mask(plate)
    assert mask_plates(f"exit of {plate} at LX-0001") == f"exit of {masked} at LX-0001"
    escaped = mask_plates(f"GET /api/v1/pay/due?lot=LX-0001&plate={quote(plate)}&x=1")
    assert plate.upper() not in escaped.upper() and quote(plate) not in escaped
    assert escaped.endswith("&x=1") and "lot=LX-0001" in escaped
    # Django's request log writes non-ASCII as \\uXXXX
    as_django_logs = plate.encode("unicode_escape").decode()
    assert mask_plates(f"Not Found: /x/{as_django_logs}") == "Not Found: /x/" + masked.encode(
        "unicode_escape").decode()


def test_text_without_plates_is_left_alone():
    for text in ("lot LX-0001 is offline", "order 4f9a0c1b2d3e4f5a6b7c8d9e", "/api/v1/lots/?q=%E6%A2%81%E6%BA%AA",
                 "", "100% done"):
        assert mask_plates(text) == text


def test_the_configured_handler_masks_message_args_extra_and_traceback(console):
    logger = logging.getLogger("apps.sessions.services")
    try:
        raise ValueError("no tariff for 苏BD12345")
    except ValueError:
        logger.exception("exit of %s refused", "苏B12345", extra={"plate": "苏B12345D", "plates": ["苏A00001"],
                                                                  "path": "/pay/X/?plate=%E8%8B%8FB54321"})
    logging.getLogger("django.request").warning("Not Found: %s", "/api/v1/me/plates/%E8%8B%8FB67890/export")
    written = console.getvalue()
    for plate in ("苏B12345", "苏BD12345", "B54321", "B67890"):
        assert plate not in written, written
    assert "苏B***45" in written and "苏B****45" in written and "Traceback" in written
    assert "%E8%8B%8FB***90" in written


def test_json_lines_carry_masked_extra_fields_and_traceback():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "plate %s", ("苏B12345",), None)
    record.plate, record.session_id = "苏B12345", 7
    try:
        raise RuntimeError("苏B12345 again")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert MaskPlates().filter(record) is True
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "plate 苏B***45" and line["plate"] == "苏B***45" and line["session_id"] == 7
    assert "苏B12345" not in line["exc"] and "苏B***45 again" in line["exc"]


@pytest.mark.django_db
def test_a_request_whose_path_holds_a_plate_is_logged_masked(client, console, settings):
    """Django's own 404 line names the path: the plate in it (escaped, as the client sent it) is masked."""
    response = client.get("/api/v1/nowhere/" + quote("苏B12345") + "?plate=" + quote("苏BD54321"))
    assert response.status_code == 404
    written = console.getvalue()
    assert "Not Found" in written
    assert "B12345" not in written and "D54321" not in written
