"""Lots now keep the time of the snapshot their count stands on (``ParkingLot.snapshot_at``) instead
of ingest reading the newest ``lot_status`` event on every batch. Fill it in from the event log for
lots that already have snapshots (while the index that serves that read still exists), then drop the
index: nothing reads it any more, and every stored snapshot paid to maintain it.

The ``review`` release reason is now labelled 待核查 alone: it also marks an exit whose stay could
not be priced, whose entry is known."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill_snapshot_at(apps, schema_editor):
    ParkingLot = apps.get_model("lots", "ParkingLot")
    IngestEvent = apps.get_model("parking_sessions", "IngestEvent")
    snapshots = IngestEvent.objects.filter(type="lot_status")
    newest = snapshots.filter(lot_id=OuterRef("pk")).order_by("-occurred_at").values("occurred_at")[:1]
    ParkingLot.objects.filter(pk__in=snapshots.values("lot_id")).update(snapshot_at=Subquery(newest))


class Migration(migrations.Migration):

    dependencies = [
        ('lots', '0003_parkinglot_snapshot_at'),
        ('parking_sessions', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(backfill_snapshot_at, migrations.RunPython.noop, elidable=True),
        migrations.RemoveIndex(
            model_name='ingestevent',
            name='ingest_snapshot_idx',
        ),
        migrations.AlterField(
            model_name='parkingsession',
            name='release_reason',
            field=models.CharField(blank=True, choices=[('paid', '已缴费'), ('free', '免费'), ('pay_later', '先离场后付费'), ('reservation', '预约'), ('sharing_contract', '错峰共享'), ('review', '待核查'), ('unpaid', '未缴费')], max_length=16, verbose_name='放行原因'),
        ),
    ]
