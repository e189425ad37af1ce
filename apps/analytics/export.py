"""The daily open-data export for the city data platform: one folder a day under ANALYTICS_EXPORT_DIR.

``<dir>/<YYYY-MM-DD>/`` holds

- ``OffStreetParking.json`` and ``OnStreetParking.json``: the registry as NGSI-LD entities (SPEC §5,
  the same bodies as ``/api/v1/open/ngsi-ld/…``, each entity with its ``@context``), as at export time;
- ``lot-days.csv``: that day's ``LotDay`` summaries, one row a lot (counts, occupancy, lot totals of
  money; no plate and nothing about a single stay);
- ``manifest.json``: the day, when it was written, and each file's size and sha256.

The folder is built under a temporary name beside its final one and renamed into place, so a reader
never sees half a day. A DATEX II feed is not produced (the NGSI-LD entities carry the same registry).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .models import LotDay
from .open_data import ENTITY_TYPE_KIND, OFF_STREET, ON_STREET, ngsi_entities_json, open_data_rows

MANIFEST = "manifest.json"
LOT_DAYS = "lot-days.csv"
LOT_DAY_COLUMNS = ["day", "lot_code", "lot_name", "region", "region_name", "operator", "total_berths", "entries",
                   "exits", "sessions_closed", "turnover", "occupied_avg", "peak_ratio", "hours_over_90",
                   "online_minutes", "billed_fen", "paid_fen"]
_TEXT = ("lot_name", "region_name", "operator")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_root() -> Path:
    return Path(getattr(settings, "ANALYTICS_EXPORT_DIR", Path(settings.BASE_DIR) / "var" / "open-data"))


def export_folder(day: date, root: Path | None = None) -> Path:
    return (root or export_root()) / day.isoformat()


def _cell(column: str, value):
    if value is None:
        return ""
    if column in _TEXT and isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # a spreadsheet must not run a lot's name as a formula
    return value


def lot_days_csv(day: date) -> bytes:
    """That day's summaries, UTF-8 with a BOM (Excel reads the Chinese right)."""
    rows = (LotDay.objects.filter(day=day).order_by("lot__code")
            .values("day", "lot__code", "lot__name", "region__code", "region__name", "operator__name",
                    "total_berths", "entries", "exits", "sessions_closed", "occupied_avg", "peak_ratio",
                    "hours_over_90", "online_minutes", "billed_fen", "paid_fen"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LOT_DAY_COLUMNS)
    for row in rows.iterator(chunk_size=2000):
        total = row["total_berths"]
        values = {
            "day": row["day"].isoformat(), "lot_code": row["lot__code"], "lot_name": row["lot__name"],
            "region": row["region__code"], "region_name": row["region__name"], "operator": row["operator__name"],
            "total_berths": total, "entries": row["entries"], "exits": row["exits"],
            "sessions_closed": row["sessions_closed"],
            "turnover": round(row["sessions_closed"] / total, 4) if total else 0,
            "occupied_avg": round(row["occupied_avg"], 2), "peak_ratio": round(row["peak_ratio"], 4),
            "hours_over_90": row["hours_over_90"], "online_minutes": row["online_minutes"],
            "billed_fen": row["billed_fen"], "paid_fen": row["paid_fen"],
        }
        writer.writerow([_cell(column, values[column]) for column in LOT_DAY_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _entities(entity_type: str) -> bytes:
    rows = open_data_rows(kind=ENTITY_TYPE_KIND[entity_type]).iterator(chunk_size=2000)
    return ngsi_entities_json(rows, entity_type, with_context=True)


def open_data_export(*, day: date, root: Path | None = None, now: datetime | None = None) -> Path:
    """Write (or rewrite) ``day``'s folder atomically and return its path."""
    root = root or export_root()
    root.mkdir(parents=True, exist_ok=True)
    final = export_folder(day, root)
    files = {f"{OFF_STREET}.json": _entities(OFF_STREET), f"{ON_STREET}.json": _entities(ON_STREET),
             LOT_DAYS: lot_days_csv(day)}
    manifest = {
        "day": day.isoformat(),
        "generated_at": timezone.localtime(now or timezone.now()).isoformat(timespec="seconds"),
        "files": [{"name": name, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
                  for name, body in files.items()],
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{day.isoformat()}.", dir=root))
    try:
        for name, body in files.items():
            (staging / name).write_bytes(body)
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.chmod(staging, 0o755)  # noqa: S103 (mkdtemp makes it private; the platform's fetcher must read it)
        if final.exists():
            # A directory cannot be renamed over a full one: move the old aside, then swap.
            old = Path(tempfile.mkdtemp(prefix=f".{day.isoformat()}.old.", dir=root))
            os.rename(final, old / "day")
            os.rename(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
