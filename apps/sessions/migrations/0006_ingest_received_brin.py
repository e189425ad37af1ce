"""A BRIN index on ``IngestEvent.received_at`` (PostgreSQL only): the supervision rules read the
last hours' events of every lot at once (``apps.analytics.supervision.detectors``), a range of a
table that ingest only ever appends to in ``received_at`` order. A BRIN index keeps one small
summary per 128 pages, so it costs an insert next to nothing (the table's B-tree indexes cost each
row a leaf write) and lets a window's scan skip everything older. It is not part of the model's
state: SQLite has no BRIN, and there a window's scan is the table's (the test suite's sizes).

It is built ``CONCURRENTLY`` (so the migration runs outside a transaction): on a city's event
table, hundreds of millions of rows, a plain build would hold ingest's inserts for its whole scan.

``autosummarize`` lets autovacuum summarise each range as it fills; ranges not yet summarised are
read by every scan, which for the newest ones the rules want anyway is no loss."""

from django.db import migrations

INDEX = "ingest_received_brin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = apps.get_model("parking_sessions", "IngestEvent")._meta.db_table
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON {schema_editor.quote_name(table)} "
                              "USING brin (received_at) WITH (autosummarize = on)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ('parking_sessions', '0005_gaps'),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]
