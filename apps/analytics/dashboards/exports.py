"""A panel's table as a file: CSV (UTF-8 with a BOM, so Excel on Chinese Windows opens it) or XLSX.
Both write ``Table.columns`` and the rows the page shows (``Table.cells()``; the XLSX keeps numbers as
numbers, ``Table.values()``) and nothing else."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.utils import timezone

from .tables import Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filename(table: Table, ext: str) -> str:
    return f"dashboard-{table.key}-{timezone.localtime():%Y%m%d-%H%M}.{ext}"


def csv_response(table: Table) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(table, "csv")}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(table.columns)
    writer.writerows(table.cells())
    return response


def xlsx_bytes(table: Table) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=table.key[:31])
    sheet.append([table.title])
    sheet.append(table.columns)
    for row in table.values():
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(table: Table) -> HttpResponse:
    response = HttpResponse(xlsx_bytes(table), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(table, "xlsx")}"'
    return response
