"""A region's lot inventory (停车场底册清单): reading the file and checking every row.

Files are CSV (UTF-8 with or without BOM, or GBK/GB18030 as saved by Excel on Chinese Windows)
or XLSX. The first row holds the column headers, in Chinese (``INVENTORY_COLUMNS``) or their
English aliases; a trailing ``*`` or a note in brackets after a header ("纬度（WGS-84）") is
ignored. Row numbers in the report are the spreadsheet's (the header is row 1).

Rules for existing codes: a code that already names a lot the importer may change, in the region
being imported (or a region below it), updates that lot in place; a code used by any other lot
is refused for that row (codes are unique city-wide, and an import never moves a lot between
regions). On an update a blank cell keeps the lot's value: an import adds and corrects, it never
clears. Regions, operators and tariffs are the ones the lot form offers the same member of staff.
The template's example row has a code no lot can have and is refused as such if left in.

Every row is checked before anything is written: one bad row, nothing saved. ``plan_import``
says what an import would do (the preview staff confirm); ``services.lots_import`` writes it,
refusing when what it would write is no longer what was previewed.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from apps.common import messages
from apps.common.geo import in_wuxi, to_wgs84
from apps.regions.models import Region
from apps.regions.selectors import region_with_descendants
from apps.regions.validators import validate_credit_code

from .choices import lot_choices
from .hours import FORMAT_MESSAGE as hours_format_message
from .hours import normalized_hours
from .models import ParkingLot

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Column:
    key: str  # the lot field (or pseudo-field) it fills
    header: str  # the Chinese header in the template
    aliases: tuple[str, ...] = ()
    required: bool = False
    note: str = ""


INVENTORY_COLUMNS: tuple[Column, ...] = (
    Column("code", "编码", ("code", "lot_code", "停车场编码"), True, "大写字母、数字或连字符，全市唯一"),
    Column("name", "名称", ("name", "停车场名称"), True),
    Column("address", "地址", ("address",)),
    Column("region_code", "区域代码", ("region", "region_code", "行政区划代码"), False,
           "留空为导入时选择的区域；可填其下级区域"),
    Column("operator_credit_code", "经营单位统一社会信用代码", ("operator", "operator_credit_code", "credit_code"),
           False, "须为已登记的经营单位"),
    Column("kind", "类型", ("kind", "type"), False, "路外停车场 / 道路泊位（默认路外）"),
    Column("category", "类别", ("category",), False, "公共停车场、商场、医院、小区、办公、景区、交通枢纽、道路泊位"),
    Column("zone_class", "片区", ("zone", "zone_class"), False, "核心 / 中心 / 外围（道路泊位必填）"),
    Column("road_class", "道路等级", ("road", "road_class"), False, "干道 / 支路（道路泊位必填）"),
    Column("lat", "纬度", ("lat", "latitude"), True),
    Column("lon", "经度", ("lon", "lng", "longitude"), True),
    Column("coord_system", "坐标系", ("coord_system", "crs"), False, "WGS-84（默认）或 GCJ-02"),
    Column("total_berths", "总泊位", ("total", "total_berths"), True),
    Column("ev_berths", "充电泊位", ("ev", "ev_berths")),
    Column("accessible_berths", "无障碍泊位", ("accessible", "accessible_berths")),
    Column("reservable_berths", "可预约泊位", ("reservable", "reservable_berths")),
    Column("opening_hours", "开放时间", ("opening_hours", "hours"), False, "如 00:00-24:00 或 07:00-22:00"),
    Column("tariff_key", "收费标准标识", ("tariff", "tariff_key"), False, "收费标准的“标识”"),
    Column("allow_pay_later", "允许先离场后付费", ("allow_pay_later", "pay_later"), False, "是 / 否"),
    Column("filing_status", "备案状态", ("filing_status", "filing")),
    Column("compliance_level", "智慧化达标等级", ("compliance_level", "compliance")),
    Column("status", "运营状态", ("status",), False, "开放 / 关闭"),
)
_BY_KEY = {c.key: c for c in INVENTORY_COLUMNS}

# The example row's code breaks the lot code rule (``LOT_CODE_VALIDATOR``: no Chinese), so it can never
# name a real lot, and a row that still carries it is refused as the example, not imported.
EXAMPLE_CODE = "示例-0001"
EXAMPLE_NOTE = "第 2 行是示例（编码以“示例”开头），导入时会被拒绝：请删除，或改为实际停车场的数据"
EXAMPLE_ROW = {
    "code": EXAMPLE_CODE, "name": "（示例）崇安寺地下停车场", "address": "无锡市梁溪区中山路", "region_code": "320213",
    "operator_credit_code": "", "kind": "路外停车场", "category": "公共停车场", "zone_class": "", "road_class": "",
    "lat": "31.5786", "lon": "120.3035", "coord_system": "WGS-84", "total_berths": "320", "ev_berths": "24",
    "accessible_berths": "6", "reservable_berths": "0", "opening_hours": "00:00-24:00", "tariff_key": "",
    "allow_pay_later": "否", "filing_status": "已备案", "compliance_level": "标准接入（进出场）", "status": "开放",
}

#: the lot fields an import sets, in the order the preview lists their changes
IMPORT_FIELDS = ("name", "address", "region", "operator", "kind", "category", "zone_class", "road_class",
                 "lat", "lon", "source_coord_system", "total_berths", "ev_berths", "accessible_berths",
                 "reservable_berths", "opening_hours", "tariff", "allow_pay_later", "filing_status",
                 "compliance_level", "status")
_COORD_DECIMALS = 7  # about a centimetre: closer points are the same point
_EMPTY = "—"

_YES = {"是", "y", "yes", "true", "1", "允许", "√"}
_NO = {"否", "n", "no", "false", "0", "不允许", ""}
_COORD_SYSTEMS = {"wgs84": ParkingLot.CoordSystem.WGS84, "wgs-84": ParkingLot.CoordSystem.WGS84,
                  "gcj02": ParkingLot.CoordSystem.GCJ02, "gcj-02": ParkingLot.CoordSystem.GCJ02,
                  "火星坐标": ParkingLot.CoordSystem.GCJ02, "高德": ParkingLot.CoordSystem.GCJ02}
_KIND_EXTRA = {"路外": ParkingLot.Kind.OFF_STREET, "路内": ParkingLot.Kind.ON_STREET,
               "道路": ParkingLot.Kind.ON_STREET, "路侧": ParkingLot.Kind.ON_STREET}
_ZONE_EXTRA = {"核心": "core", "中心": "center", "外围": "outer"}


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row number (header = 1); 0 for the file as a whole
    column: str  # the header as staff see it ("" for the whole row or file)
    message: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class InventoryRow:
    number: int
    values: dict[str, str]  # column key → cell text as read (stripped; "" for a blank cell)


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str  # the field's name as staff read it (总泊位, 经营单位)
    before: str
    after: str


@dataclass
class PlannedLot:
    number: int
    lot: ParkingLot  # unsaved changes; WGS-84 coordinates
    created: bool
    before: dict[str, Any] | None = None  # an existing lot's importable fields as read
    changes: list[FieldChange] = field(default_factory=list)

    @property
    def action(self) -> str:
        if self.created:
            return "create"
        return "update" if self.changes else "unchanged"


@dataclass
class ImportPlan:
    region: Region
    rows: list[InventoryRow]
    lots: list[PlannedLot]
    errors: list[RowError]
    digest: str = ""  # what would be written, hashed: the preview staff confirm is the write that runs

    @property
    def ok(self) -> bool:
        return not self.errors

    def of(self, action: str) -> list[PlannedLot]:
        return [item for item in self.lots if item.action == action]


class InventoryFileError(Exception):
    """The file can't be read as an inventory at all (encoding, format, headers)."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


# -- reading -------------------------------------------------------------------------------------
def header_key(header: object) -> str | None:
    """The column key a header names, or None."""
    text = re.split(r"[（(]", str(header or ""), maxsplit=1)[0]
    text = text.replace("*", "").replace("＊", "").strip().lower()
    for column in INVENTORY_COLUMNS:
        if text == column.header or text in column.aliases:
            return column.key
    return None


def decode_csv(data: bytes) -> str:
    """UTF-8 (BOM or not) first; otherwise GB18030, the superset of GBK that Excel writes."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InventoryFileError([RowError(0, "", _("无法识别文件编码：请另存为 UTF-8 或 GBK 编码的 CSV，或 XLSX"))])


def _csv_rows(data: bytes) -> Iterable[list]:
    text = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text, newline=""), dialect))


def _xlsx_rows(data: bytes) -> Iterable[list]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a broken file; all mean the same to staff
        raise InventoryFileError([RowError(0, "", _("无法读取 XLSX 文件：文件已损坏或不是 Excel 工作簿"))])
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_inventory(data: bytes, filename: str = "") -> list[InventoryRow]:
    """Parse a CSV or XLSX inventory into rows keyed by column; file-level problems raise."""
    if len(data) > MAX_BYTES:
        raise InventoryFileError([RowError(0, "", _("文件超过 5 MB，请分批导入"))])
    is_xlsx = data.startswith(b"PK\x03\x04") or filename.lower().endswith(".xlsx")
    # Blank lines are dropped but rows keep their spreadsheet numbers for the report.
    numbered = _numbered(_xlsx_rows(data) if is_xlsx else _csv_rows(data))
    if not numbered:
        raise InventoryFileError([RowError(0, "", _("文件为空"))])
    header_number, header = numbered[0]
    errors: list[RowError] = []
    keys: list[str | None] = []
    for cell in header:
        if not _text(cell):
            keys.append(None)
            continue
        key = header_key(cell)
        if key is None:
            errors.append(RowError(header_number, str(cell), _("无法识别的列名，请使用模板中的列名")))
        elif key in keys:
            errors.append(RowError(header_number, str(cell), _("列名重复")))
        keys.append(key)
    missing = [c.header for c in INVENTORY_COLUMNS if c.required and c.key not in keys]
    for header_text in missing:
        errors.append(RowError(header_number, header_text, _("缺少必填列")))
    if errors:
        raise InventoryFileError(errors)
    rows = []
    for number, cells in numbered[1:]:
        values = {key: _text(cells[i]) if i < len(cells) else "" for i, key in enumerate(keys) if key}
        rows.append(InventoryRow(number, values))
    if not rows:
        raise InventoryFileError([RowError(0, "", _no_data_rows_message())])
    if len(rows) > MAX_ROWS:
        raise InventoryFileError([RowError(0, "", _("一次最多导入 %(n)d 行") % {"n": MAX_ROWS})])
    return rows


def _no_data_rows_message() -> str:
    return _("文件中没有数据行：第一行为列名，从第二行起每行填写一个停车场")


def is_example_code(code: str) -> bool:
    """The template's example code (or one made from it): a row staff forgot to delete."""
    return code.strip().upper().startswith(EXAMPLE_CODE.split("-", 1)[0])


def _numbered(table) -> list[tuple[int, list]]:
    return [(i, row) for i, row in enumerate(table, start=1) if any(_text(c) for c in row)]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# -- checking ------------------------------------------------------------------------------------
class _RowProblem(Exception):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key, self.message = key, message


def _choice(key: str, raw: str, choices, extra: dict | None = None, default: str | None = None) -> str:
    if not raw:
        if default is None:
            return ""
        return default
    lowered = raw.lower()
    # The template's labels are Chinese whatever language the page is in: accept those and the
    # labels in the current language.
    with translation.override(settings.LANGUAGE_CODE):
        template_labels = [str(label).lower() for _value, label in choices]
    for (value, label), template_label in zip(choices, template_labels, strict=True):
        if lowered in (value, str(label).lower(), template_label):
            return value
    if extra and raw in extra:
        return extra[raw]
    allowed = "、".join(str(label) for _value, label in choices)
    raise _RowProblem(key, str(messages.rule(messages.ONE_OF, choices=allowed)))


def _int(key: str, raw: str, *, default: int | None = None) -> int:
    if not raw:
        if default is None:
            raise _RowProblem(key, _("必填"))
        return default
    try:
        number = float(raw)
    except ValueError:
        raise _RowProblem(key, str(messages.integer_rule(0)))
    if not number.is_integer() or number < 0:
        raise _RowProblem(key, str(messages.integer_rule(0)))
    return int(number)


def _float(key: str, raw: str) -> float:
    if not raw:
        raise _RowProblem(key, _("必填"))
    try:
        return float(raw)
    except ValueError:
        raise _RowProblem(key, str(messages.NUMBER))


def _required(key: str, raw: str) -> str:
    if not raw:
        raise _RowProblem(key, _("必填"))
    return raw


def _bool(key: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise _RowProblem(key, _("请填写“是”或“否”"))


def _changeable_ids(actor, lot_ids) -> set[int] | None:
    """Which of these lots ``actor`` may change (None: all of them, the system).

    The one place the import asks "may this member of staff update this lot": the write rule
    (``writable_by``) that ``services.lot_save`` applies through ``may_change`` when it writes.
    """
    if actor is None:
        return None
    return set(ParkingLot.objects.filter(pk__in=lot_ids).writable_by(actor).values_list("pk", flat=True))


class _Lookups:
    """What rows refer to, fetched once for the whole file (not a query per row).

    Regions, operators and tariffs are looked up among the choices the lot form offers the same
    member of staff (``choices.lot_choices``); a code, credit code or key outside them is unknown.
    """

    def __init__(self, *, actor, region: Region, rows: list[InventoryRow], lock: bool):
        allowed = region_with_descendants(region.pk)
        self.regions = {r.code: r for r in lot_choices("region", actor).filter(pk__in=allowed)}
        codes = {_text(r.values.get("code")).upper() for r in rows} - {""}
        existing = (ParkingLot.objects.filter(code__in=codes).select_related("region", "operator", "tariff")
                    .order_by("pk"))
        if lock:
            # Lot rows in primary-key order, the order every other multi-lot writer locks them in.
            existing = existing.select_for_update(of=("self",))
        self.existing = {lot.code: lot for lot in existing}
        self.changeable = _changeable_ids(actor, [lot.pk for lot in self.existing.values()])
        credit_codes = {_text(r.values.get("operator_credit_code")).upper() for r in rows} - {""}
        self.operators = {o.credit_code: o for o in
                          lot_choices("operator", actor).filter(credit_code__in=credit_codes)}
        keys = {_text(r.values.get("tariff_key")) for r in rows} - {""}
        self.tariffs = {t.key: t for t in lot_choices("tariff", actor).filter(key__in=keys)}


def plan_import(rows: list[InventoryRow], *, region: Region, actor=None, lock: bool = False) -> ImportPlan:
    """What importing ``rows`` into ``region`` would do: each row becomes a lot to create, a lot to
    update (with every field's before and after) or a lot left as it is, or the report of what is
    wrong with it. Nothing is written. ``lock`` takes the existing lots' row locks (the confirming
    write); the plan's ``digest`` changes whenever what would be written changes."""
    lookups = _Lookups(actor=actor, region=region, rows=rows, lock=lock)
    planned: list[PlannedLot] = []
    errors: list[RowError] = []
    seen_codes: dict[str, int] = {}
    for row in rows:
        row_errors: list[RowError] = []
        item = _row_to_lot(row, region=region, lookups=lookups, seen_codes=seen_codes, errors=row_errors)
        if item is not None and not row_errors:
            row_errors.extend(_model_errors(row.number, item.lot))
        errors.extend(row_errors)
        if item is not None and not row_errors:
            planned.append(item)
    if not rows:
        errors.append(RowError(0, "", _no_data_rows_message()))
    plan = ImportPlan(region=region, rows=rows, lots=planned, errors=errors)
    if plan.ok:
        plan.digest = _digest(region, rows, planned)
    return plan


def _digest(region: Region, rows: list[InventoryRow], planned: list[PlannedLot]) -> str:
    payload = {
        "region": region.pk,
        "rows": [[r.number, r.values] for r in rows],
        # Before and after of every importable field: a lot edited since the preview, a tariff key
        # now naming another tariff or a code registered meanwhile all change the digest.
        "lots": [[p.number, p.lot.code, p.action, p.before, _raw_values(p.lot)] for p in planned],
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _raw_values(lot: ParkingLot) -> dict[str, Any]:
    values = {}
    for name in IMPORT_FIELDS:
        field_ = ParkingLot._meta.get_field(name)
        value = getattr(lot, field_.attname)
        values[name] = round(value, _COORD_DECIMALS) if isinstance(value, float) else value
    return values


def _display(lot: ParkingLot, name: str) -> str:
    """A field's value as staff read it in the preview (labels, names, 是/否)."""
    field_ = ParkingLot._meta.get_field(name)
    if field_.is_relation:
        related = getattr(lot, name)
        return str(related) if related is not None else _EMPTY
    value = getattr(lot, name)
    if field_.choices:
        return str(dict(field_.flatchoices).get(value, value)) if value else _EMPTY
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, float):
        return f"{value:.6f}"
    if value is None or value == "":
        return _EMPTY
    return str(value)


def _changes(before: ParkingLot, after: ParkingLot) -> list[FieldChange]:
    old, new = _raw_values(before), _raw_values(after)
    return [FieldChange(name, str(ParkingLot._meta.get_field(name).verbose_name),
                        _display(before, name), _display(after, name))
            for name in IMPORT_FIELDS if old[name] != new[name]]


def _row_to_lot(row: InventoryRow, *, region, lookups: _Lookups, seen_codes: dict, errors: list):
    values = {key: _text(value) for key, value in row.values.items()}

    def problem(key: str, message: str) -> None:
        errors.append(RowError(row.number, _BY_KEY[key].header, message))

    code = values.get("code", "").upper()
    if not code:
        problem("code", _("必填"))
        return None
    if is_example_code(code):
        problem("code", _("这是模板中的示例行，请删除此行后再导入"))
        return None
    if code in seen_codes:
        problem("code", _("编码 %(code)s 与第 %(row)d 行重复") % {"code": code, "row": seen_codes[code]})
        return None
    seen_codes[code] = row.number

    existing = lookups.existing.get(code)
    if existing is not None:
        may_change = lookups.changeable is None or existing.pk in lookups.changeable
        if not may_change or existing.region.code not in lookups.regions:
            problem("code", _("编码 %(code)s 已被其他区域的停车场使用") % {"code": code})
            return None
        before, lot, created = _snapshot(existing), existing, False
    else:
        before, lot, created = None, ParkingLot(code=code), True

    for key, apply in _APPLY.items():
        raw = values.get(key, "")
        if not created and not raw:
            continue  # a blank cell (or a column the file lacks) never clears an existing lot's value
        try:
            apply(lot, raw, lookups, region)
        except _RowProblem as exc:
            problem(exc.key, exc.message)
    _apply_coordinates(lot, values, created=created, problem=problem)
    # A new lot starts empty; an existing one keeps its live count, within the new total.
    lot.free_berths = lot.total_berths if created else min(lot.free_berths, lot.total_berths)
    if created:
        return PlannedLot(row.number, lot, created=True)
    return PlannedLot(row.number, lot, created=False, before=_raw_values(before), changes=_changes(before, lot))


def _snapshot(lot: ParkingLot) -> ParkingLot:
    """A copy of ``lot`` as read, related rows included, to show and compare the values before."""
    return copy.copy(lot)


def _apply_coordinates(lot: ParkingLot, values: dict[str, str], *, created: bool, problem) -> None:
    """Latitude, longitude and the system they are written in go together: on an update, both
    blank keep the lot where it is (a coordinate system alone describes no point)."""
    lat_raw, lon_raw = values.get("lat", ""), values.get("lon", "")
    if not created and not lat_raw and not lon_raw:
        return
    parsed = {}
    for key, parse in (("lat", lambda raw: _float("lat", raw)), ("lon", lambda raw: _float("lon", raw)),
                       ("coord_system", _coord_system)):
        try:
            parsed[key] = parse(values.get(key, ""))
        except _RowProblem as exc:
            problem(exc.key, exc.message)
    if len(parsed) < 3:
        return
    try:
        lat, lon = to_wgs84(parsed["lat"], parsed["lon"], parsed["coord_system"])
    except ValueError:
        lat = lon = None
    if lat is None or not in_wuxi(lat, lon):
        problem("lat", _("坐标不在无锡市范围内"))
        return
    if not created and (round(lat, _COORD_DECIMALS), round(lon, _COORD_DECIMALS)) == (
            round(lot.lat, _COORD_DECIMALS), round(lot.lon, _COORD_DECIMALS)):
        return  # the same point (to the centimetre): nothing to change, its recorded source included
    lot.lat, lot.lon, lot.source_coord_system = lat, lon, parsed["coord_system"]


def _set_region(lot, raw, lookups, region):
    if not raw:
        lot.region = region
        return
    found = lookups.regions.get(raw.upper())
    if found is None:
        raise _RowProblem("region_code", _("区域 %(code)s 不在本次导入的区域（%(region)s）内")
                          % {"code": raw, "region": region})
    lot.region = found


def _set_operator(lot, raw, lookups, region):
    if not raw:
        lot.operator = None
        return
    try:
        validate_credit_code(raw)
    except ValidationError as exc:
        raise _RowProblem("operator_credit_code", str(exc.messages[0]))
    operator = lookups.operators.get(raw.upper())
    if operator is None:
        # Unregistered and out of reach read the same: the file learns nothing about other regions.
        raise _RowProblem("operator_credit_code", _(
            "统一社会信用代码 %(code)s 不是可选的经营单位（须已登记，并在本区域登记或经营停车场）")
            % {"code": raw.upper()})
    lot.operator = operator


def _set_tariff(lot, raw, lookups, region):
    if not raw:
        lot.tariff = None
        return
    tariff = lookups.tariffs.get(raw)
    if tariff is None:
        raise _RowProblem("tariff_key", _("找不到标识为 %(key)s 的收费标准") % {"key": raw})
    lot.tariff = tariff


def _set_hours(lot, raw, lookups, region):
    hours = normalized_hours(raw or "00:00-24:00")
    if hours is None:
        raise _RowProblem("opening_hours", str(hours_format_message))
    lot.opening_hours = hours


def _setter(attr: str, parse):
    def apply(lot, raw, lookups, region):
        setattr(lot, attr, parse(attr, raw))
    return apply


_APPLY = {
    "name": _setter("name", lambda k, raw: _required(k, raw)),
    "address": _setter("address", lambda k, raw: raw),
    "region_code": _set_region,
    "operator_credit_code": _set_operator,
    "kind": _setter("kind", lambda k, raw: _choice(k, raw, ParkingLot.Kind.choices, _KIND_EXTRA,
                                                   ParkingLot.Kind.OFF_STREET)),
    "category": _setter("category", lambda k, raw: _choice(k, raw, ParkingLot.Category.choices, None,
                                                           ParkingLot.Category.PUBLIC)),
    "zone_class": _setter("zone_class", lambda k, raw: _choice(k, raw, ParkingLot.ZoneClass.choices, _ZONE_EXTRA)),
    "road_class": _setter("road_class", lambda k, raw: _choice(k, raw, ParkingLot.RoadClass.choices)),
    "total_berths": _setter("total_berths", lambda k, raw: _int(k, raw)),
    "ev_berths": _setter("ev_berths", lambda k, raw: _int(k, raw, default=0)),
    "accessible_berths": _setter("accessible_berths", lambda k, raw: _int(k, raw, default=0)),
    "reservable_berths": _setter("reservable_berths", lambda k, raw: _int(k, raw, default=0)),
    "opening_hours": _set_hours,
    "tariff_key": _set_tariff,
    "allow_pay_later": _setter("allow_pay_later", lambda k, raw: _bool(k, raw)),
    "filing_status": _setter("filing_status", lambda k, raw: _choice(k, raw, ParkingLot.Filing.choices, None,
                                                                     ParkingLot.Filing.UNFILED)),
    "compliance_level": _setter("compliance_level", lambda k, raw: _choice(
        k, raw, ParkingLot.Compliance.choices, None, ParkingLot.Compliance.NONE)),
    "status": _setter("status", lambda k, raw: _choice(k, raw, ParkingLot.Status.choices, None,
                                                       ParkingLot.Status.OPEN)),
}


def _coord_system(raw: str) -> str:
    if not raw:
        return ParkingLot.CoordSystem.WGS84
    found = _COORD_SYSTEMS.get(raw.strip().lower().replace(" ", ""))
    if found is None:
        raise _RowProblem("coord_system", _("坐标系应为 WGS-84 或 GCJ-02"))
    return found


_FIELD_COLUMN = {"lat": "lat", "lon": "lon", "region": "region_code", "operator": "operator_credit_code",
                 "tariff": "tariff_key", "source_coord_system": "coord_system", "free_berths": "total_berths"}


def column_for_field(field: str | None) -> str:
    """The header staff see for a model field named in an error."""
    if not field:
        return ""
    key = _FIELD_COLUMN.get(field, field)
    column = _BY_KEY.get(key)
    return column.header if column else field


def _model_errors(number: int, lot: ParkingLot) -> list[RowError]:
    """The model's own rules (ranges, berths within total, on-street zone) on the planned lot."""
    try:
        # The related rows were fetched once for the file and codes checked against the registry, so
        # nothing here needs a query per row; clean() covers the check constraints, and lot_save
        # validates everything again when it writes.
        lot.full_clean(exclude=["region", "operator", "tariff"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return [RowError(number, column_for_field(f), str(m))
                for f, messages in exc.message_dict.items() for m in messages]
    return []


# -- the template staff download -----------------------------------------------------------------
def template_headers() -> list[str]:
    return [c.header + ("*" if c.required else "") for c in INVENTORY_COLUMNS]


def template_csv() -> bytes:
    """UTF-8 with BOM, so Excel on Chinese Windows shows the headers correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(template_headers())
    writer.writerow([EXAMPLE_ROW[c.key] for c in INVENTORY_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "底册清单"
    sheet.append(template_headers())
    sheet.append([EXAMPLE_ROW[c.key] for c in INVENTORY_COLUMNS])
    for cell, column in zip(sheet[1], INVENTORY_COLUMNS, strict=True):
        cell.font = Font(bold=True)
        if column.note:
            cell.comment = Comment(column.note, "无锡停车")
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
    sheet["A2"].comment = Comment(EXAMPLE_NOTE, "无锡停车")
    notes = workbook.create_sheet("填写说明")
    notes.append([EXAMPLE_NOTE])
    notes.append(["列名", "英文别名", "必填", "说明"])
    for column in INVENTORY_COLUMNS:
        notes.append([column.header, ", ".join(column.aliases), "是" if column.required else "否", column.note])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
