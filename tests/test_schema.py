"""The OpenAPI schema: generated without a single warning anywhere in the project, valid, and
served with docs whose assets come from our own static files, never a CDN."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

PUBLIC_PATHS = [
    "/api/v1/lots/",
    "/api/v1/lots/{code}/",
    "/api/v1/lots/nearest",
    "/api/v1/map/lots.geojson",
    "/api/v1/fees/quote",
    "/api/v1/open/ngsi-ld/OffStreetParking",
    "/api/v1/open/ngsi-ld/OnStreetParking",
    "/api/v1/open/lots.csv",
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """`manage.py spectacular --validate --fail-on-warn`, as CI runs it; the warnings are shown on failure."""
    out = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    GENERATOR_STATS.reset()  # warnings seen earlier in this process must not hide or fake new ones
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    except Exception as exc:  # SchemaGenerationError / SchemaValidationError
        warnings = "\n".join([*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache])
        pytest.fail(f"schema generation failed: {exc}\n{warnings}", pytrace=False)
    finally:
        GENERATOR_STATS.reset()
    return yaml.safe_load(out.read_text(encoding="utf-8"))


def test_schema_generates_without_warnings_and_validates(generated):
    assert generated["openapi"].startswith("3.")


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_every_public_endpoint_is_documented_with_the_error_body(generated, path):
    operation = generated["paths"][path]["get"]
    errors = {status: response for status, response in operation["responses"].items() if status.startswith("4")}
    if path != "/api/v1/open/lots.csv":  # takes no parameter, so it has no 4xx of its own
        assert errors, f"{path} documents no error response"
    for response in errors.values():
        for media in response["content"].values():
            assert media["schema"] == {"$ref": "#/components/schemas/Error"}


def test_error_component_is_spec_shaped(generated):
    schemas = generated["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    info = schemas[schemas["Error"]["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(info["properties"]) == {"code", "message", "details"}


def test_lot_component_has_the_spec_fields(generated):
    lot = generated["components"]["schemas"]["Lot"]
    assert set(lot["properties"]) == {
        "code", "name", "address", "region", "region_name", "kind", "lat", "lon", "total_berths", "free_berths",
        "ev_berths", "accessible_berths", "status", "updated_at", "opening_hours", "tariff", "operator", "forecast",
    }
    forecast = lot["properties"]["forecast"]
    assert forecast["nullable"] is True
    assert set(forecast["properties"]) == {"in_15_min", "in_30_min", "in_60_min"}
    assert "LotStatusEnum" in str(lot["properties"]["status"])
    assert generated["components"]["schemas"]["LotStatusEnum"]["enum"] == ["open", "full", "closed", "offline"]


def test_list_filters_and_pagination_are_documented(generated):
    names = {p["name"] for p in generated["paths"]["/api/v1/lots/"]["get"]["parameters"]}
    assert names == {"region", "kind", "has_ev", "has_accessible", "min_free", "bbox", "q", "page", "page_size"}


@pytest.mark.django_db
def test_schema_endpoint_serves_it(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/lots/nearest" in response.content


@pytest.mark.django_db
def test_docs_page_loads_its_assets_from_our_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert any(url.endswith(".js") for url in assets)
    for url in assets:
        assert url.startswith("/static/"), f"{url} is not served from our static files"
        assert finders.find(url.removeprefix("/static/")), f"{url} does not exist in the static files"
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "an asset is loaded from another host"
