"""The paying endpoints in the published OpenAPI: the ORDER and pay/due components carry SPEC §8.1's fields."""

from __future__ import annotations

import yaml
from django.core.management import call_command


def test_order_and_due_are_documented_as_spec(tmp_path):
    out = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(out))
    schema = yaml.safe_load(out.read_text(encoding="utf-8"))
    components = schema["components"]["schemas"]
    assert set(components["Order"]["properties"]) == {"order_no", "state", "channel", "amount_fen", "items",
                                                      "created_at", "expires_at", "paid_at", "pay"}
    assert set(components["Due"]["properties"]) == {"lot_code", "plate", "due_fen", "grace_minutes", "sessions"}
    paths = schema["paths"]
    assert {"201", "200", "409"} <= set(paths["/api/v1/payments/orders"]["post"]["responses"])
    assert "get" in paths["/api/v1/payments/orders/{order_no}"]
    assert "post" in paths["/api/v1/payments/orders/{order_no}/cancel"]
    assert "404" in paths["/api/v1/pay/due"]["get"]["responses"]
