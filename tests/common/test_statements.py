"""Statements built now and run later, several in one round trip (apps.common.statements), and the
keys ingest allocates before its lock (apps.sessions.bulk.allocate_keys)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.common.statements import Statement, query_statement, run_statements
from apps.lots.models import ParkingLot
from apps.sessions.bulk import allocate_keys, prepared_insert_objects
from apps.sessions.models import Arrears, ParkingSession
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


def _names(lot_ids):
    return dict(ParkingLot.objects.filter(pk__in=lot_ids).values_list("pk", "name"))


def test_statements_run_in_order_each_with_its_own_result():
    lots = [LotFactory(name="甲"), LotFactory(name="乙")]
    table = connection.ops.quote_name(ParkingLot._meta.db_table)
    rename = Statement(f"UPDATE {table} SET name = %s WHERE id = %s", ["丙", lots[0].pk])  # noqa: S608
    read = Statement(f"SELECT name FROM {table} WHERE id IN (%s, %s) ORDER BY id",  # noqa: S608
                     [lots[0].pk, lots[1].pk], on_result=lambda rows, _count: [name for (name,) in rows])
    none_changed = Statement(f"UPDATE {table} SET name = name WHERE id = %s", [-1])  # noqa: S608
    with CaptureQueriesContext(connection) as queries:
        results = run_statements([rename, None, read, none_changed])
    assert results == [1, ["丙", "乙"], 0]  # the read sees the update before it; None is skipped
    # One round trip on PostgreSQL (the connection binds parameters on the client); elsewhere one each.
    assert len(queries.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    assert run_statements([]) == [] and run_statements([None]) == []


def test_a_statement_alone_runs_when_called():
    lot = LotFactory(name="甲")
    table = connection.ops.quote_name(ParkingLot._meta.db_table)
    assert Statement(f"UPDATE {table} SET name = %s WHERE id = %s", ["乙", lot.pk])() == 1  # noqa: S608
    assert _names([lot.pk]) == {lot.pk: "乙"}


def test_a_literal_percent_is_written_for_binding_whether_joined_or_alone():
    lot = LotFactory(name="甲")
    table = connection.ops.quote_name(ParkingLot._meta.db_table)
    percent = Statement(f"UPDATE {table} SET name = %s || '%%' WHERE id = %s", ["满", lot.pk])  # noqa: S608
    percent()
    assert _names([lot.pk]) == {lot.pk: "满%"}
    run_statements([percent, Statement(f"UPDATE {table} SET name = name || '%%' WHERE id = %s", [lot.pk])])  # noqa: S608
    assert _names([lot.pk]) == {lot.pk: "满%%"}


def test_a_failing_statement_raises_and_its_transaction_keeps_nothing_of_the_trip():
    lots = [LotFactory(name="甲"), LotFactory(name="乙")]
    table = connection.ops.quote_name(ParkingLot._meta.db_table)
    with pytest.raises(IntegrityError), transaction.atomic():
        run_statements([
            Statement(f"UPDATE {table} SET name = %s WHERE id = %s", ["丙", lots[0].pk]),  # noqa: S608
            Statement(f"UPDATE {table} SET code = %s WHERE id = %s", [lots[0].code, lots[1].pk]),  # noqa: S608
        ])
    assert _names([lot.pk for lot in lots]) == {lots[0].pk: "甲", lots[1].pk: "乙"}


def test_statements_for_two_databases_are_refused():
    with pytest.raises(ValueError, match="different databases"):
        run_statements([Statement("SELECT 1"), Statement("SELECT 1", using="other")])


def test_a_querysets_select_as_a_statement_reads_its_rows():
    lots = [LotFactory(), LotFactory()]
    ids = sorted(lot.pk for lot in lots)
    query = ParkingLot.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "code")
    assert run_statements([query_statement(query)]) == [list(query)]
    # One Django knows to be empty finds no row, as iterating it would, beside the others.
    nothing = ParkingLot.objects.filter(pk__in=[]).values_list("pk")
    assert run_statements([query_statement(nothing), query_statement(query)]) == [[], list(query)]


@pytest.mark.postgres
def test_allocated_keys_are_new_distinct_and_taken_by_the_insert():
    lot = LotFactory()
    before = ParkingSession.objects.create(lot=lot, plate="苏B10000", state=ParkingSession.State.OPEN)
    keys = allocate_keys({ParkingSession: 3, Arrears: 0})
    assert keys[Arrears] == []
    assert len(set(keys[ParkingSession])) == 3 and min(keys[ParkingSession]) > before.pk
    sessions = [ParkingSession(pk=key, lot=lot, plate=f"苏B1000{i + 1}", state=ParkingSession.State.OPEN)
                for i, key in enumerate(keys[ParkingSession])]
    with CaptureQueriesContext(connection) as queries:
        assert prepared_insert_objects(ParkingSession, sessions)() == 3
    assert "RETURNING" not in queries.captured_queries[0]["sql"]
    assert [s._state.adding for s in sessions] == [False] * 3
    assert sorted(ParkingSession.objects.filter(lot=lot).values_list("pk", flat=True)) == sorted(
        [before.pk, *keys[ParkingSession]])
    # The sequence has moved past them: a plain insert afterwards takes a key of its own.
    after = ParkingSession.objects.create(lot=lot, plate="苏B10009", state=ParkingSession.State.OPEN)
    assert after.pk > max(keys[ParkingSession])
