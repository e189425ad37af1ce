"""Open data (SPEC §5): NGSI-LD entities valid against the FIWARE schemas, the CSV registry, no plates."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from django.utils import timezone
from referencing import Registry, Resource

from apps.common import plates
from apps.lots.models import ParkingLot
from tests.factories import LotFactory, OperatorFactory, TariffFactory

pytestmark = pytest.mark.django_db

FIWARE = Path(__file__).resolve().parents[2] / "apps" / "analytics" / "fiware"
OFF = "/api/v1/open/ngsi-ld/OffStreetParking"
ON = "/api/v1/open/ngsi-ld/OnStreetParking"
CSV_URL = "/api/v1/open/lots.csv"

NGSI_KEYS = {
    "id", "type", "name", "parkingSiteId", "location", "address", "areaServed", "category", "extCategory",
    "specialLocation", "allowedVehicleType", "occupancyDetectionType", "status", "dataProvider", "dateModified",
    "totalSpotNumber", "availableSpotNumber", "occupiedSpotNumber", "occupancy", "occupancyModified",
    "openingHours", "provider",
}
CSV_HEADER = ["code", "name", "address", "region", "region_name", "kind", "category", "operator", "lat", "lon",
              "total_berths", "free_berths", "ev_berths", "accessible_berths", "status", "updated_at",
              "opening_hours"]
# Any plate of SPEC §2, also inside a longer string: province, authority letter, 4–6 more.
PLATE_LIKE = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][A-Z][A-Z0-9]{4,6}")


def _format_checker() -> jsonschema.FormatChecker:
    """The schemas' formats, checked for real: jsonschema skips date-time without an extra package."""
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value) -> bool:
        if not isinstance(value, str):
            return True
        if "T" not in value:
            raise ValueError("no T between date and time")
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        return True

    @checker.checks("uri", raises=ValueError)
    def _uri(value) -> bool:
        if isinstance(value, str) and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value):
            raise ValueError("not a URI")
        return True

    return checker


def _validator(entity_type: str):
    common = json.loads((FIWARE / "common-schema.json").read_text(encoding="utf-8"))
    registry = Registry().with_resource(common["$id"], Resource.from_contents(common))
    schema = json.loads((FIWARE / entity_type / "schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=registry, format_checker=_format_checker())


def _assert_valid(entities, entity_type):
    validator = _validator(entity_type)
    for entity in entities:
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(entity)]
        assert not errors, (entity["id"], errors)


def test_the_validator_really_checks():
    # A validator that accepted anything would make the tests below worthless.
    validator = _validator("OffStreetParking")
    good = {"id": "urn:ngsi-ld:OffStreetParking:A", "type": "OffStreetParking",
            "location": {"type": "Point", "coordinates": [120.3, 31.5]}}
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "status": ["offline"]})
    assert not validator.is_valid({**good, "totalSpotNumber": 0})
    assert not validator.is_valid({**good, "dateModified": "2026-03-17 09:00"})
    assert not validator.is_valid({**good, "location": {"type": "Point", "coordinates": "120.3,31.5"}})


@pytest.fixture
def lots(city):
    now = timezone.now()
    return {
        "open": LotFactory(code="OFF-OPEN", name="三阳广场停车场", region=city["320213"], total_berths=200,
                           free_berths=37, ev_berths=10, accessible_berths=2, category=ParkingLot.Category.MALL,
                           compliance_level=ParkingLot.Compliance.STANDARD, occupancy_updated_at=now,
                           operator=OperatorFactory(name="无锡城建停车管理有限公司")),
        "full": LotFactory(code="OFF-FULL", region=city["320211"], free_berths=0, tariff=None, operator=None,
                           category=ParkingLot.Category.HOSPITAL, opening_hours="工作日 07:00-19:00"),
        "closed": LotFactory(code="OFF-CLOSED", region=city["3202JK"], status=ParkingLot.Status.CLOSED,
                             category=ParkingLot.Category.TRANSPORT),
        "offline": LotFactory(code="OFF-OFFLINE", region=city["320281"], offline_since=now - timedelta(hours=1),
                              compliance_level=ParkingLot.Compliance.ADVANCED),
        "empty": LotFactory(code="OFF-NEW", total_berths=0, free_berths=0, region=city["320282"]),
        "street": LotFactory(code="ON-1", name="中山路道路泊位", kind=ParkingLot.Kind.ON_STREET, zone_class="core",
                             road_class="arterial", total_berths=24, free_berths=5, region=city["320213"],
                             compliance_level=ParkingLot.Compliance.ADVANCED, accessible_berths=1),
        "street-off": LotFactory(code="ON-2", kind=ParkingLot.Kind.ON_STREET, zone_class="outer",
                                 road_class="branch", total_berths=0, free_berths=0, region=city["320205"],
                                 offline_since=now),
    }


def _entities(api_client, url, **params):
    response = api_client.get(url, params)
    assert response.status_code == 200, response.content
    return response, json.loads(response.content)


def test_off_street_entities_are_valid_fiware_and_carry_the_spec_fields(api_client, lots):
    response, entities = _entities(api_client, OFF)
    assert response["Content-Type"] == "application/json"
    assert [e["id"] for e in entities] == [
        "urn:ngsi-ld:OffStreetParking:OFF-CLOSED", "urn:ngsi-ld:OffStreetParking:OFF-FULL",
        "urn:ngsi-ld:OffStreetParking:OFF-NEW", "urn:ngsi-ld:OffStreetParking:OFF-OFFLINE",
        "urn:ngsi-ld:OffStreetParking:OFF-OPEN",
    ]
    _assert_valid(entities, "OffStreetParking")
    by_code = {e["parkingSiteId"]: e for e in entities}
    lot = lots["open"]
    assert by_code["OFF-OPEN"] == {
        "id": "urn:ngsi-ld:OffStreetParking:OFF-OPEN",
        "type": "OffStreetParking",
        "name": "三阳广场停车场",
        "parkingSiteId": "OFF-OPEN",
        "location": {"type": "Point", "coordinates": [lot.lon, lot.lat]},
        "address": {"streetAddress": lot.address, "addressLocality": "无锡市", "district": "梁溪区",
                    "addressRegion": "江苏省", "addressCountry": "CN"},
        "areaServed": "梁溪区",
        "category": ["public", "forCustomers", "feeCharged", "forElectricalCharging", "forDisabled"],
        "extCategory": ["mall"],
        "specialLocation": ["shoppingCentre"],
        "allowedVehicleType": ["car"],
        "occupancyDetectionType": ["balancing"],
        "status": ["open", "spacesAvailable"],
        "totalSpotNumber": 200,
        "availableSpotNumber": 37,
        "occupiedSpotNumber": 163,
        "occupancy": 0.815,
        "occupancyModified": timezone.localtime(lot.occupancy_updated_at).isoformat(),
        "dateModified": timezone.localtime(max(lot.updated_at, lot.occupancy_updated_at)).isoformat(),
        "openingHours": "Mo-Su 00:00-24:00",
        "provider": {"name": "无锡城建停车管理有限公司"},
        "dataProvider": "无锡停车 · 城市停车管理平台",
    }


def test_opening_hours_of_ranges_are_every_days_and_other_text_is_passed_on(api_client, lots):
    """Read as the forecast and the lot form read them (apps.lots.hours): ranges past midnight, a
    second range and the fullwidth comma staff type are opening hours too."""
    ParkingLot.objects.filter(code="OFF-CLOSED").update(opening_hours="07:00-11:30，13:00-22:00")
    ParkingLot.objects.filter(code="OFF-OFFLINE").update(opening_hours="22:00-06:00")
    by_code = {e["parkingSiteId"]: e for e in _entities(api_client, OFF)[1]}
    assert by_code["OFF-CLOSED"]["openingHours"] == "Mo-Su 07:00-11:30,13:00-22:00"
    assert by_code["OFF-OFFLINE"]["openingHours"] == "Mo-Su 22:00-06:00"
    assert by_code["OFF-FULL"]["openingHours"] == "工作日 07:00-19:00"


def test_status_and_spot_numbers_by_state(api_client, lots):
    _, entities = _entities(api_client, OFF)
    by_code = {e["parkingSiteId"]: e for e in entities}
    assert by_code["OFF-FULL"]["status"] == ["full"]
    assert by_code["OFF-FULL"]["availableSpotNumber"] == 0
    assert by_code["OFF-FULL"]["category"] == ["public", "forVisitors"]  # no tariff: not "feeCharged"
    assert by_code["OFF-FULL"]["openingHours"] == "工作日 07:00-19:00"
    assert "provider" not in by_code["OFF-FULL"]
    # Closed or offline: the count means nothing, so none is published.
    for code, status in (("OFF-CLOSED", ["closed"]), ("OFF-OFFLINE", ["openingTimesInForce"])):
        assert by_code[code]["status"] == status
        assert not {"availableSpotNumber", "occupiedSpotNumber", "occupancy"} & set(by_code[code])
        assert by_code[code]["totalSpotNumber"] == 100
    assert by_code["OFF-OFFLINE"]["occupancyDetectionType"] == ["singleSpaceDetection"]
    assert by_code["OFF-OFFLINE"]["address"]["addressLocality"] == "无锡市"
    assert by_code["OFF-OFFLINE"]["address"]["district"] == "江阴市"
    assert by_code["OFF-CLOSED"]["specialLocation"] == ["publicTransportStation"]
    # The off-street schema wants at least one spot: a lot not yet counted gives no total.
    assert "totalSpotNumber" not in by_code["OFF-NEW"]
    assert by_code["OFF-NEW"]["availableSpotNumber"] == 0
    assert "occupancy" not in by_code["OFF-NEW"]


def test_on_street_entities_are_valid_fiware(api_client, lots):
    _, entities = _entities(api_client, ON)
    assert [e["id"] for e in entities] == ["urn:ngsi-ld:OnStreetParking:ON-1", "urn:ngsi-ld:OnStreetParking:ON-2"]
    _assert_valid(entities, "OnStreetParking")
    street = entities[0]
    assert street["type"] == "OnStreetParking"
    assert street["totalSpotNumber"] == 24
    assert street["availableSpotNumber"] == 5
    assert street["status"] == ["open", "spacesAvailable"]
    assert street["category"] == ["public", "feeCharged", "forDisabled"]
    assert "specialLocation" not in street
    assert entities[1]["totalSpotNumber"] == 0
    assert entities[1]["status"] == ["openingTimesInForce"]


def test_json_ld_puts_the_context_in_each_entity_and_json_in_a_link_header(api_client, lots):
    plain = api_client.get(OFF)
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in plain["Link"]
    assert all("@context" not in e for e in json.loads(plain.content))
    ld = api_client.get(OFF, HTTP_ACCEPT="application/ld+json")
    assert ld["Content-Type"] == "application/ld+json"
    assert not ld.has_header("Link")
    entities = json.loads(ld.content)
    assert all(e["@context"][0].endswith("dataModel.Parking/master/context.jsonld") for e in entities)
    _assert_valid(entities, "OffStreetParking")


def test_paging_with_limit_and_offset(api_client, lots):
    response, entities = _entities(api_client, OFF, limit=2, offset=1)
    assert [e["parkingSiteId"] for e in entities] == ["OFF-FULL", "OFF-NEW"]
    assert response["NGSILD-Results-Count"] == "5"
    _, rest = _entities(api_client, OFF, offset=4)
    assert [e["parkingSiteId"] for e in rest] == ["OFF-OPEN"]
    for bad in ({"limit": 0}, {"limit": "all"}, {"offset": -1}, {"limit": 10_001}):
        response = api_client.get(OFF, bad)
        assert response.status_code == 400
        assert response.json()["error"]["details"]["field"] == next(iter(bad))


@pytest.mark.parametrize("params", [
    {"offset": 5}, {"offset": 99}, {"offset": 2**63 - 1}, {"offset": 2**63 - 1, "limit": 5},
    {"offset": 2**63}, {"offset": 10**20}, {"offset": 10**20, "limit": 10_000},
])
def test_an_offset_past_the_end_however_large_is_an_empty_array(api_client, lots, params):
    # Once a 500 ("bigint out of range") on PostgreSQL; the lot list answers a page past the end alike.
    response, entities = _entities(api_client, OFF, **params)
    assert entities == []
    assert response["NGSILD-Results-Count"] == "5"


def test_parameters_open_data_does_not_take_are_400_naming_them(api_client, lots):
    for url, params, name in ((OFF, {"type": "Foo"}, "type"), (ON, {"q": "bogus"}, "q"),
                              (OFF, {"page": "2"}, "page"), (CSV_URL, {"offset": "10"}, "offset"),
                              (CSV_URL, {"kind": "x"}, "kind")):
        response = api_client.get(url, params)
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/json"
        error = response.json()["error"]
        assert (error["code"], error["details"]["field"]) == ("unknown_parameter", name)


def test_what_an_ngsi_ld_client_sends_anyway_is_taken(api_client, lots):
    _, entities = _entities(api_client, OFF, options="keyValues", count="true", limit=1)
    assert len(entities) == 1
    response = api_client.get(OFF, {"options": "sysAttrs"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "options"


def test_open_data_queries_do_not_grow_with_rows(api_client, city, django_assert_num_queries):
    def make(n):
        for _ in range(n):
            LotFactory(tariff=TariffFactory(), operator=OperatorFactory())

    make(5)
    with django_assert_num_queries(2):  # rows + count
        assert len(_entities(api_client, OFF)[1]) == 5
    with django_assert_num_queries(1):
        api_client.get(CSV_URL)
    make(45)
    with django_assert_num_queries(2):
        assert len(_entities(api_client, OFF)[1]) == 50
    with django_assert_num_queries(1):
        assert api_client.get(CSV_URL).content.count(b"\r\n") == 51


def _csv_rows(response):
    assert response.content.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_registry_with_current_occupancy(api_client, lots):
    response = api_client.get(CSV_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="wuxi-parking-lots-\d{8}\.csv"', response["Content-Disposition"])
    rows = _csv_rows(response)
    assert rows[0] == CSV_HEADER
    by_code = {row[0]: dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]}
    assert len(by_code) == len(lots)
    lot = lots["open"]
    assert by_code["OFF-OPEN"] == {
        "code": "OFF-OPEN", "name": "三阳广场停车场", "address": lot.address, "region": "320213",
        "region_name": "梁溪区", "kind": "off_street", "category": "mall", "operator": "无锡城建停车管理有限公司",
        "lat": str(lot.lat), "lon": str(lot.lon), "total_berths": "200", "free_berths": "37", "ev_berths": "10",
        "accessible_berths": "2", "status": "open",
        "updated_at": timezone.localtime(lot.occupancy_updated_at).isoformat(),
        "opening_hours": "00:00-24:00",
    }
    assert by_code["OFF-FULL"]["operator"] == ""
    assert by_code["OFF-FULL"]["free_berths"] == "0"
    assert by_code["OFF-OFFLINE"]["status"] == "offline"
    assert by_code["ON-1"]["kind"] == "on_street"


def test_closed_and_offline_lots_publish_no_free_count_in_ngsi_ld_or_csv(api_client, lots, city):
    # A closed lot's count (0 or whatever it last was) is no free berth anyone can use: NGSI-LD leaves the
    # spot numbers out, and the CSV, for the same lots, leaves free_berths empty.
    LotFactory(code="ON-CLOSED", kind=ParkingLot.Kind.ON_STREET, zone_class="core", road_class="arterial",
               total_berths=12, free_berths=0, status=ParkingLot.Status.CLOSED, region=city["320213"])
    lots["closed"].free_berths = 0
    lots["closed"].save(update_fields=["free_berths"])
    entities = _entities(api_client, OFF)[1] + _entities(api_client, ON)[1]
    _assert_valid([e for e in entities if e["type"] == "OffStreetParking"], "OffStreetParking")
    _assert_valid([e for e in entities if e["type"] == "OnStreetParking"], "OnStreetParking")
    published = {e["parkingSiteId"]: e.get("availableSpotNumber") for e in entities}
    rows = _csv_rows(api_client.get(CSV_URL))
    csv_free = {row[0]: dict(zip(CSV_HEADER, row, strict=True))["free_berths"] for row in rows[1:]}
    for code in ("OFF-CLOSED", "ON-CLOSED", "OFF-OFFLINE", "ON-2"):
        assert published[code] is None, code
        assert csv_free[code] == "", code
    for code in ("OFF-OPEN", "OFF-FULL", "ON-1"):
        assert csv_free[code] == str(published[code]), code


def test_csv_never_lets_a_cell_become_a_formula(api_client, city):
    LotFactory(code="EVIL", name='=HYPERLINK("http://example.com","点我")', address="+86 路", lat=31.5, lon=120.3)
    row = dict(zip(CSV_HEADER, _csv_rows(api_client.get(CSV_URL))[1], strict=True))
    assert row["name"] == '\'=HYPERLINK("http://example.com","点我")'
    assert row["address"] == "'+86 路"
    assert row["lon"] == "120.3"


def test_csv_with_a_spreadsheet_accept_header(api_client, lots):
    assert api_client.get(CSV_URL, HTTP_ACCEPT="text/csv").status_code == 200


def _strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def test_open_data_never_contains_a_plate(api_client, lots):
    outputs = [json.loads(api_client.get(url).content) for url in (OFF, ON)]
    entities = [entity for output in outputs for entity in output]
    # Only the fields reviewed for open data: a new one must be added here on purpose.
    assert set().union(*(entity.keys() for entity in entities)) <= NGSI_KEYS
    csv_rows = _csv_rows(api_client.get(CSV_URL))
    assert csv_rows[0] == CSV_HEADER
    for text in [*_strings(entities), *(cell for row in csv_rows for cell in row)]:
        assert not PLATE_LIKE.search(text), text
        with pytest.raises(plates.PlateError):
            plates.parse(text)


def test_date_modified_is_the_latest_change(api_client, city):
    old = datetime(2026, 1, 1, tzinfo=UTC)
    lot = LotFactory(code="D-1", occupancy_updated_at=old)
    (entity,) = json.loads(api_client.get(OFF).content)
    assert entity["dateModified"] == timezone.localtime(lot.updated_at).isoformat()
    assert entity["occupancyModified"] == "2026-01-01T08:00:00+08:00"
