"""Statements built now and run later, several in one round trip to PostgreSQL.

Ingest holds its lots' row lock from the lock to the commit; every batch sharing a lot waits for it
that long. Its writes under the lock were one statement each (sessions changed, sessions created,
arrears, ledger rows, the events' session links, the lots' counts, the device's heartbeat), each a
round trip, and between round trips the request's thread waited for the server process's GIL behind
the other requests' Python. ``run_statements`` sends such a list as one query text: PostgreSQL runs
the statements in order, in the caller's transaction, and each one's result is read in turn.

That takes client-side parameter binding, which is how Django's psycopg 3 backend connects unless
``server_side_binding`` is set: the parameters are merged into the text on our side, so one text
can carry several statements. Where that is not so (server-side binding, SQLite), the statements
run one by one, with the same results. A statement's text is written for binding either way: a
literal ``%`` is ``%%``, and a statement that fails rolls back what the caller's transaction did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections


@dataclass
class Statement:
    """One statement and its parameters. ``on_result(rows, rowcount)`` makes the statement's result
    (``rows``: what it returned, None for a statement that returns no rows); without it the result is
    the row count."""

    sql: str
    params: Sequence[Any] = field(default_factory=list)
    on_result: Callable[[list[tuple] | None, int], Any] | None = None
    using: str = DEFAULT_DB_ALIAS

    def __call__(self) -> Any:
        """Run this statement alone; its result."""
        return run_statements([self])[0]

    def finish(self, cursor) -> Any:
        rows = cursor.fetchall() if cursor.description is not None else None
        return self.on_result(rows, cursor.rowcount) if self.on_result is not None else cursor.rowcount


def _binds_on_the_client(connection, cursor) -> bool:
    if connection.vendor != "postgresql":
        return False
    try:
        from psycopg import ClientCursor
    except ImportError:  # psycopg2: several statements run, but only the last one's result is read
        return False
    return isinstance(cursor.cursor, ClientCursor)


def run_statements(statements: Iterable[Statement | None]) -> list[Any]:
    """Run ``statements`` (None entries are skipped) in order on their database, in one round trip
    where the connection allows it; the result of each (see ``Statement``), in order."""
    todo = [statement for statement in statements if statement is not None]
    if not todo:
        return []
    using = todo[0].using
    if any(statement.using != using for statement in todo):
        raise ValueError("statements for different databases cannot run together")
    connection = connections[using]
    with connection.cursor() as cursor:
        if len(todo) > 1 and _binds_on_the_client(connection, cursor):
            cursor.execute(";\n".join(statement.sql for statement in todo),
                           [param for statement in todo for param in statement.params])
            results = []
            for index, statement in enumerate(todo):
                if index and not cursor.nextset():
                    raise RuntimeError(f"PostgreSQL returned {index} results for {len(todo)} statements")
                results.append(statement.finish(cursor))
            return results
        results = []
        for statement in todo:
            cursor.execute(statement.sql, list(statement.params))
            results.append(statement.finish(cursor))
        return results


def query_statement(queryset) -> Statement:
    """A queryset's SELECT as a ``Statement`` whose result is its rows as plain tuples: for queries
    of columns that need none of Django's converters (keys, text), such as ``values_list`` of ids.
    A queryset Django knows to be empty (``pk__in=[]``) becomes a statement that finds no row, as
    iterating it would."""
    try:
        sql, params = queryset.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:
        sql, params = "SELECT NULL WHERE FALSE", ()
    return Statement(sql, list(params), on_result=lambda rows, _count: [tuple(row) for row in rows or ()],
                     using=queryset.db)
