"""Open data for the city data platform (SPEC §5): the lot registry with current occupancy, as
NGSI-LD entities (FIWARE Smart Data Models ``dataModel.Parking``, keyValues form) and as CSV.

Built from ``.values()`` rows of lots, regions and operators only: nothing here reads a session, an
event or a berth, so no plate can reach open data. ``fiware/`` holds the schemas the entities follow.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from django.db.models import QuerySet

from apps.lots.hours import normalized_hours
from apps.lots.models import ParkingLot
from apps.lots.selectors import PublicLotFormatter, public_lot_rows

OFF_STREET = "OffStreetParking"
ON_STREET = "OnStreetParking"
ENTITY_TYPE_KIND = {OFF_STREET: ParkingLot.Kind.OFF_STREET, ON_STREET: ParkingLot.Kind.ON_STREET}

# NGSI-LD: a keyValues body sent as application/json names its @context in a Link header; as
# application/ld+json each entity carries it.
NGSI_CONTEXT = [
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]
NGSI_CONTEXT_LINK = f'<{NGSI_CONTEXT[0]}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
DATA_PROVIDER = "无锡停车 · 城市停车管理平台"

# DATEX II parking status for SPEC §4's status. An offline lot's count is unknown: its opening
# hours are all that can be said, and no spot numbers are published for it (nor for a closed one).
_STATUS = {
    "open": ["open", "spacesAvailable"],
    "full": ["full"],
    "closed": ["closed"],
    "offline": ["openingTimesInForce"],
}
# The states in which a lot's free count is published (NGSI-LD spot numbers, the CSV's free_berths).
_COUNTED = frozenset({"open", "full"})
# Who a lot mainly serves. Every lot on the platform is open to the public.
_CATEGORY_PURPOSE = {
    ParkingLot.Category.MALL: "forCustomers",
    ParkingLot.Category.HOSPITAL: "forVisitors",
    ParkingLot.Category.RESIDENTIAL: "forResidents",
    ParkingLot.Category.OFFICE: "forEmployees",
    ParkingLot.Category.SCENIC: "forVisitors",
}
_SPECIAL_LOCATION = {
    ParkingLot.Category.MALL: "shoppingCentre",
    ParkingLot.Category.TRANSPORT: "publicTransportStation",
}
# How the count is known, from the lot's smart-compliance level.
_DETECTION = {
    ParkingLot.Compliance.NONE: ["none"],
    ParkingLot.Compliance.BASIC: ["balancing"],  # the lot system reports its own count of ins and outs
    ParkingLot.Compliance.STANDARD: ["balancing"],  # the platform counts entries and exits
    ParkingLot.Compliance.ADVANCED: ["singleSpaceDetection"],  # a sensor or camera per berth
}
OPEN_DATA_EXTRA = ("category", "compliance_level", "occupancy_updated_at", "updated_at", "region__parent__name")


def open_data_rows(*, kind: str | None = None) -> QuerySet:
    queryset = ParkingLot.objects.order_by("code")
    if kind:
        queryset = queryset.filter(kind=kind)
    return public_lot_rows(queryset, extra=OPEN_DATA_EXTRA)


def ngsi_entity(row: dict, entity_type: str, *, with_context: bool = False,
                formatter: PublicLotFormatter | None = None) -> dict:
    """One lot as an NGSI-LD entity in keyValues form, following the FIWARE schema of ``entity_type``."""
    iso = (formatter or PublicLotFormatter()).time
    total, free, status = row["total_berths"], row["free_berths"], row["public_status"]
    category = ["public"]
    if entity_type == OFF_STREET and row["category"] in _CATEGORY_PURPOSE:
        category.append(_CATEGORY_PURPOSE[row["category"]])
    if row["tariff_json"] is not None:
        category.append("feeCharged")
    if row["ev_berths"]:
        category.append("forElectricalCharging")
    if row["accessible_berths"]:
        category.append("forDisabled")

    city = row["region__parent__name"] or row["region__name"]
    address = {"streetAddress": row["address"], "addressLocality": city, "addressRegion": "江苏省",
               "addressCountry": "CN"}
    if row["region__parent__name"]:
        address["district"] = row["region__name"]

    entity = {
        "id": f"urn:ngsi-ld:{entity_type}:{row['code']}",
        "type": entity_type,
        "name": row["name"],
        "parkingSiteId": row["code"],
        "location": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "address": address,
        "areaServed": row["region__name"],
        "category": category,
        "extCategory": [row["category"]],
        "allowedVehicleType": ["car"],
        "occupancyDetectionType": _DETECTION.get(row["compliance_level"], ["none"]),
        "status": _STATUS[status],
        "dataProvider": DATA_PROVIDER,
        "dateModified": iso(max(filter(None, (row["updated_at"], row["occupancy_updated_at"])))),
    }
    # The Off-street schema requires a total of at least 1; a lot not yet counted says nothing.
    if total > 0 or entity_type == ON_STREET:
        entity["totalSpotNumber"] = total
    if status in _COUNTED:
        entity["availableSpotNumber"] = free
        entity["occupiedSpotNumber"] = total - free
        if total > 0:
            entity["occupancy"] = round((total - free) / total, 4)
        if row["occupancy_updated_at"]:
            entity["occupancyModified"] = iso(row["occupancy_updated_at"])
    if entity_type == OFF_STREET and row["category"] in _SPECIAL_LOCATION:
        entity["specialLocation"] = [_SPECIAL_LOCATION[row["category"]]]
    hours = row["opening_hours"]
    if hours:
        ranges = normalized_hours(hours)  # every day: as schema.org's openingHours writes it
        entity["openingHours"] = f"Mo-Su {ranges}" if ranges else hours
    if row["operator__name"]:
        entity["provider"] = {"name": row["operator__name"]}
    if with_context:
        entity["@context"] = NGSI_CONTEXT
    return entity


def ngsi_entities_json(rows: Iterable[dict], entity_type: str, *, with_context: bool = False) -> bytes:
    formatter = PublicLotFormatter()
    entities = [ngsi_entity(row, entity_type, with_context=with_context, formatter=formatter) for row in rows]
    return json.dumps(entities, ensure_ascii=False, separators=(",", ":")).encode()


CSV_COLUMNS = ["code", "name", "address", "region", "region_name", "kind", "category", "operator", "lat", "lon",
               "total_berths", "free_berths", "ev_berths", "accessible_berths", "status", "updated_at",
               "opening_hours"]
_TEXT_COLUMNS = frozenset({"name", "address", "region_name", "operator", "opening_hours"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(column: str, value) -> object:
    if value is None:
        return ""
    # A spreadsheet runs a cell starting with "=" (or + - @) as a formula: never let a lot's name do that.
    if column in _TEXT_COLUMNS and isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def registry_csv(rows: Iterable[dict]) -> bytes:
    """The registry with current occupancy, UTF-8 with a BOM so that Excel reads the Chinese right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    formatter = PublicLotFormatter()
    for row in rows:
        lot = formatter(row)
        lot["category"] = row["category"]
        if lot["status"] not in _COUNTED:
            lot["free_berths"] = None  # as in NGSI-LD: a closed or offline lot's count means nothing
        writer.writerow([_cell(column, lot[column]) for column in CSV_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
