"""The eight categories issue 8 names, each with its SLA (staff edit them afterwards)."""

from django.db import migrations

from apps.complaints.defaults import ensure


def seed(apps, schema_editor):
    ensure(apps.get_model("complaints", "Category"))


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
