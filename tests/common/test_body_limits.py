"""A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is SPEC §1's 413, in each face's own error shape — never a 500.

Django raises ``RequestDataTooBig`` when a view first reads such a body; unhandled, the API answered it as
an internal server error (and logged a stack trace for every oversized request a client cared to send)."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from apps.complaints.models import Ticket
from apps.payments import sandbox
from apps.payments.models import Order

pytestmark = pytest.mark.django_db

LIMIT = 1024
BIG = json.dumps({"filler": "x" * (2 * LIMIT)})


@pytest.mark.parametrize("path", ["/api/v1/payments/orders", "/api/v1/complaints/",
                                  "/api/v1/complaints/RX20260317-0123/rating", "/api/v1/wechat/miniprogram/login"])
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_an_oversized_api_body_is_413_too_large(client, path):
    response = client.generic("POST", path, BIG, content_type="application/json")
    assert response.status_code == 413, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "too_large"
    assert str(LIMIT) in json.dumps(body["error"]["details"])


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_an_oversized_open311_post_is_413_in_open311s_array(client):
    response = client.post("/open311/v2/requests.json", {"api_key": "k", "description": "x" * (2 * LIMIT)})
    assert response.status_code == 413, response.content
    [error] = response.json()
    assert error["code"] == 413 and error["description"]
    assert not Ticket.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_an_oversized_notice_is_refused_in_the_providers_body(client):
    body, headers = sandbox.signed_notice({"filler": "x" * (2 * LIMIT)})
    headers.pop("Content-Type")
    response = client.generic("POST", "/payments/notify/sandbox/", body, content_type="application/json",
                              headers=headers)
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "FAIL" and response.json()["message"]
    assert not Order.objects.exists()
