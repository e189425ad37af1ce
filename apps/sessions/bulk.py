"""Writing many rows' different values in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN pk=… THEN …`` expression per field per row and spends
most of an ingest batch's time resolving them in Python. ``UPDATE … FROM (VALUES …)`` says the same
in one flat statement; PostgreSQL and SQLite (3.33+) both run it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model


def update_rows(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of ``objs`` (saved rows) in one UPDATE; returns the number of rows changed."""
    if not objs:
        return 0
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    # PostgreSQL types VALUES from its first row and can't type a parameter alone: cast each one.
    typed = connection.vendor == "postgresql"

    def slot(field) -> str:
        return f"CAST(%s AS {field.db_type(connection)})" if typed else "%s"

    row = "(" + ", ".join(slot(field) for field in (pk, *columns)) + ")"
    params: list = []
    for obj in objs:
        params.append(pk.get_db_prep_value(obj.pk, connection))
        params.extend(field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns)
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(field.column)} = v.column{i}" for i, field in enumerate(columns, start=2))
    sql = (f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(objs))}) AS v "  # noqa: S608
           f"WHERE {table}.{quote(pk.column)} = v.column1")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
