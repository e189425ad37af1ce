"""Writing many rows' different values in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN pk=… THEN …`` expression per field per row and spends
most of an ingest batch's time resolving them in Python. ``UPDATE … FROM (VALUES …)`` says the same
in one flat statement; PostgreSQL and SQLite (3.33+) both run it.

On PostgreSQL the rows travel as one JSON parameter read by ``jsonb_to_recordset``: the connection
binds parameters on the client, so a ``VALUES`` list of hundreds of placeholders (or the arrays of
Django's own ``bulk_create``) costs Python time to quote and to re-parse a statement too long for
psycopg's cache, while one JSON text is encoded in C and the statement stays the same every time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from django.db import connections, router
from django.db.models import Field, JSONField, Model

from apps.common.statements import Statement


def _json_value(value: object) -> str:
    """What ``get_db_prep_save`` hands a PostgreSQL connection that JSON has no type for; the
    record's declared column type reads it back (timestamptz keeps the offset, uuid its text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot pass {type(value).__name__} through jsonb_to_recordset")


def _records(connection, fields: Sequence[Field], rows: Iterable[Sequence]) -> tuple[str, str]:
    """``(column definitions, JSON parameter)`` for ``jsonb_to_recordset``: one record per row, keyed
    by column name, each value prepared by its field as Django would save it."""
    definition = ", ".join(f"{connection.ops.quote_name(field.column)} {field.db_type(connection)}"
                           for field in fields)
    plain = [_plain_type(field) for field in fields]
    records = [{field.column: value if type(value) is kind else _prepared(field, value, connection)
                for field, kind, value in zip(fields, plain, row, strict=True)} for row in rows]
    return definition, json.dumps(records, default=_json_value, ensure_ascii=False)


def _prepared(field: Field, value: object, connection) -> object:
    if isinstance(field, JSONField):
        # The record is JSON already: the value goes in as its own encoder writes it.
        return json.loads(json.dumps(value, cls=field.encoder)) if field.encoder is not None else value
    if value is None:
        return None  # what get_db_prep_save makes of it, without its calls
    if type(value) is datetime and value.utcoffset() is not None and field.get_internal_type() == "DateTimeField":
        return value  # an aware time goes to PostgreSQL as it is (a naive one is made aware below)
    return field.get_db_prep_save(value, connection)


def _plain_type(field: Field) -> type | None:
    """The type whose values the field's preparation hands back unchanged, if there is one."""
    return _PLAIN.get((field.target_field if field.is_relation else field).get_internal_type())


# Field types whose preparation hands back a value of exactly this type unchanged (a foreign key is
# its target's type: an integer primary key).
_PLAIN: dict[str, type] = {
    **dict.fromkeys(["CharField", "TextField", "SlugField", "EmailField"], str),
    **dict.fromkeys(["IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
                     "PositiveBigIntegerField", "PositiveSmallIntegerField", "AutoField", "BigAutoField",
                     "SmallAutoField"], int),
    "BooleanField": bool,
}


def insert_new_rows(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence], *,
                    unique: Sequence[str], returning: Sequence[str]) -> list[tuple]:
    """PostgreSQL only: insert ``rows`` (values of ``fields``, by attname) in one statement, skipping
    those the unique constraint on ``unique`` already holds; returns ``returning`` of the rows it
    inserted. A conflicting row another transaction is inserting is waited for, as by any insert."""
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    definition, records = _records(connection, columns, rows)
    names = ", ".join(quote(field.column) for field in columns)
    values = ", ".join(f"v.{quote(field.column)}" for field in columns)
    conflict = ", ".join(quote(meta.get_field(name).column) for name in unique)
    returned = ", ".join(quote(meta.get_field(name).column) for name in returning)
    sql = (f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT {values} "  # noqa: S608
           f"FROM jsonb_to_recordset(%s::jsonb) AS v({definition}) "
           f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {returned}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [records])
        return cursor.fetchall()


def insert_objects(model: type[Model], objs: Sequence[Model]) -> None:
    """PostgreSQL only: what ``bulk_create(objs)`` does for new rows without database defaults, in
    one statement whose parameter is a single JSON text: every concrete field but the primary key is
    written as its ``pre_save`` gives it (``auto_now`` included), and each object gets its new key.
    Like Django's own PostgreSQL insert, it relies on RETURNING giving the rows in insertion order."""
    statement = prepared_insert_objects(model, objs)
    if statement is not None:
        statement()


def allocate_keys(counts: Mapping[type[Model], int]) -> dict[type[Model], list[int]]:
    """PostgreSQL only: new primary keys from each model's own sequence (``counts``: how many of
    each), in one query, for rows to be inserted later with them: ``prepared_insert_objects`` then
    needs no RETURNING, and statements that point at the rows can be built before they exist. A key
    allocated and never used is a gap, as a rolled-back insert leaves one."""
    wanted = [(model, count) for model, count in counts.items() if count > 0]
    keys: dict[type[Model], list[int]] = {model: [] for model in counts}
    if not wanted:
        return keys
    connection = connections[router.db_for_write(wanted[0][0])]
    parts, params = [], []
    for index, (model, count) in enumerate(wanted):
        parts.append("SELECT %s::integer, nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)")
        params += [index, model._meta.db_table, model._meta.pk.column, count]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for index, key in cursor.fetchall():
            keys[wanted[index][0]].append(key)
    return keys


def prepared_insert_objects(model: type[Model], objs: Sequence[Model]) -> Statement | None:
    """``insert_objects`` in two steps: the statement and its parameter are built now, from the
    objects as they are now, and run later (``Statement``; None when there is nothing to insert), by
    a caller that builds them before it takes a lock and runs them once it holds it. Objects that all
    have their key already (``allocate_keys``) are inserted with it; otherwise each gets its new key
    from RETURNING."""
    if not objs:
        return None
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    quote = connection.ops.quote_name
    keyed = all(obj.pk is not None for obj in objs)
    fields = [field for field in meta.concrete_fields if keyed or not field.primary_key]
    definition, records = _records(connection, fields, (
        [obj.pk if field.primary_key else field.pre_save(obj, True) for field in fields] for obj in objs))
    names = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(f"v.{quote(field.column)}" for field in fields)
    sql = (f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT {values} "  # noqa: S608
           f"FROM jsonb_to_recordset(%s::jsonb) AS v({definition})")
    if not keyed:
        sql += f" RETURNING {quote(meta.pk.column)}"

    def inserted(keys: list[tuple] | None, rowcount: int) -> int:
        if rowcount != len(objs):
            raise RuntimeError(f"inserted {rowcount} of {len(objs)} {meta.label} rows")
        for index, obj in enumerate(objs):
            if keys is not None:
                obj.pk = keys[index][0]
            obj._state.adding = False
            obj._state.db = connection.alias
        return rowcount
    return Statement(sql, [records], on_result=inserted, using=connection.alias)


def update_rows(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of ``objs`` (saved rows) in one UPDATE; returns the number of rows changed."""
    statement = prepared_update_rows(model, objs, fields)
    return statement() if statement is not None else 0


def prepared_update_rows(model: type[Model], objs: Sequence[Model], fields: Sequence[str]) -> Statement | None:
    """``update_rows`` in two steps, as ``prepared_insert_objects``: built now, run later."""
    attnames = [model._meta.get_field(name).attname for name in fields]
    return prepared_update_values(model, fields, [(obj.pk, *(getattr(obj, name) for name in attnames))
                                                  for obj in objs])


def update_values(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence]) -> int:
    """Like ``update_rows``, from rows of (primary key, then the values of ``fields``) rather than
    model instances (a link written to many rows needs no object per row)."""
    statement = prepared_update_values(model, fields, rows)
    return statement() if statement is not None else 0


def prepared_update_values(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence]) -> Statement | None:
    """``update_values`` in two steps: built now, run later (None when there is nothing to write)."""
    if not rows:
        return None
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    if connection.vendor == "postgresql":
        definition, records = _records(connection, [pk, *columns], rows)
        assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in columns)
        sql = (f"UPDATE {table} SET {assignments} FROM jsonb_to_recordset(%s::jsonb) AS v({definition}) "  # noqa: S608
               f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}")
        params: list = [records]
    else:
        row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        params = []
        for key, *values in rows:
            params.append(pk.get_db_prep_value(key, connection))
            params.extend(field.get_db_prep_save(value, connection)
                          for field, value in zip(columns, values, strict=True))
        assignments = ", ".join(f"{quote(field.column)} = v.column{i}" for i, field in enumerate(columns, start=2))
        sql = (f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(rows))}) AS v "  # noqa: S608
               f"WHERE {table}.{quote(pk.column)} = v.column1")
    return Statement(sql, params, using=connection.alias)
