"""The ingest endpoint in the OpenAPI schema: headers, security, body and every response."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def operation():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    warnings = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    assert not [w for w in warnings if "ingest" in str(w).lower() or "sessions" in str(w).lower()], warnings
    return schema, schema["paths"]["/api/v1/ingest/events"]["post"]


def test_signature_headers_and_security_are_documented(operation):
    schema, op = operation
    headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
    assert headers == {"X-Access-Key", "X-Timestamp", "X-Nonce", "X-Signature"}
    assert op["security"] == [{"deviceSignature": []}]
    assert schema["components"]["securitySchemes"]["deviceSignature"]["in"] == "header"


def test_body_and_responses_are_spec_shaped(operation):
    schema, op = operation
    assert list(op["requestBody"]["content"]) == ["application/json"]
    components = schema["components"]["schemas"]
    result = components["IngestBatchResult"]["properties"]
    assert set(result) == {"accepted", "duplicates", "rejected", "results"}
    session = components["IngestSession"]["properties"]
    assert set(session) == {"session_id", "entry_at", "exit_at", "amount_fen", "paid_fen", "due_fen", "release",
                            "release_reason"}
    event = components["IngestEventRequest"]["properties"]
    assert {"event_id", "type", "lot_code", "occurred_at", "plate", "ticket_id", "free_berths"} <= set(event)
    for status in ("400", "401", "413"):
        assert op["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}


def test_the_limits_and_their_codes_are_documented(operation):
    schema, op = operation
    assert "超过 1000 个事件或 1 MiB 为 413 batch_too_large" in op["description"]
    assert "events 为空为 400 invalid_batch" in op["description"]
    event = schema["components"]["schemas"]["IngestEventRequest"]["properties"]
    assert "30 天以上拒收（invalid_time）" in event["occurred_at"]["description"]
    result = schema["components"]["schemas"]["IngestResult"]["properties"]
    assert "控制字符" in result["error"]["description"]
