"""What staff do in the admin around the services is audited (apps/common/admin_login.py): each bulk
action, one entry per row it touched, seen by that row's district; each deletion."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.lots.models import FreeWindow
from tests.factories import LotFactory
from tests.security.autofill import Place, make

pytestmark = pytest.mark.django_db
LX, BH = "320213", "320211"


def test_a_bulk_action_is_one_entry_naming_its_rows(client, city, officer):
    mine = [LotFactory(region=city[LX]) for _ in range(3)]
    client.force_login(officer)
    response = client.post(reverse("admin:lots_parkinglot_changelist"),
                           {"action": "export_csv", "_selected_action": [lot.pk for lot in mine]})
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="admin.action.export_csv")
    assert (entry.actor_id, entry.ip, entry.object_id) == (officer.pk, "127.0.0.1", None)
    assert entry.changes["model"] == [None, "lots.ParkingLot"] and entry.changes["rows"] == [None, 3]
    assert sorted(entry.changes["ids"][1]) == sorted(lot.pk for lot in mine)


def test_an_action_on_one_row_is_recorded_on_it_for_its_district_to_see(client, city, officer, staff_factory):
    lot = LotFactory(region=city[LX])
    client.force_login(officer)
    client.post(reverse("admin:lots_parkinglot_changelist"), {"action": "export_csv", "_selected_action": [lot.pk]})
    entry = AuditEntry.objects.get(action="admin.action.export_csv")
    assert entry.object_id == lot.pk
    assert list(AuditEntry.objects.for_user(officer).filter(action="admin.action.export_csv")) == [entry]
    assert not AuditEntry.objects.for_user(staff_factory("region", BH)).filter(action="admin.action.export_csv")


def test_an_action_whose_service_records_it_is_recorded_once(client, city, officer):
    lot = LotFactory(region=city[LX])
    client.force_login(officer)
    client.post(reverse("admin:lots_parkinglot_changelist"), {"action": "mark_closed", "_selected_action": [lot.pk]})
    lot.refresh_from_db()
    assert lot.status == "closed"
    assert list(AuditEntry.objects.values_list("action", "object_id")) == [("lot.closed", lot.pk)]


def test_a_deletion_its_service_records_is_recorded_once(client, city, staff_factory):
    from django.utils import timezone

    place = Place(city[LX])
    window = make(FreeWindow, place, starts_at=timezone.now(), ends_at=timezone.now() + timezone.timedelta(hours=1))
    user = staff_factory("city", is_superuser=True)
    client.force_login(user)
    url = reverse("admin:lots_freewindow_delete", args=[window.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not FreeWindow.objects.filter(pk=window.pk).exists()
    assert list(AuditEntry.objects.values_list("action", "object_id", "actor_id")) == [
        ("free_window.deleted", window.pk, user.pk)]


def test_a_deletion_nothing_else_records_is_recorded_by_the_admin(rf, city, staff_factory):
    """A ModelAdmin that deletes with Django's own ``delete()`` (no service, no entry of its own)."""
    from django.contrib import admin as django_admin
    from django.utils import timezone

    from apps.common.admin_login import _audit

    place = Place(city[LX])
    windows = [make(FreeWindow, place, starts_at=timezone.now(), ends_at=timezone.now() + timezone.timedelta(hours=1))
               for _ in range(3)]
    user = staff_factory("city", is_superuser=True)
    request = rf.post("/admin/")
    request.user = user
    plain = django_admin.ModelAdmin(FreeWindow, django_admin.site)
    _audit(plain)
    plain.delete_model(request, windows[0])
    plain.delete_queryset(request, FreeWindow.objects.filter(pk__in=[w.pk for w in windows[1:]]))
    assert not FreeWindow.objects.exists()
    entries = AuditEntry.objects.filter(action="admin.deleted").order_by("object_id")
    assert [(e.object_id, e.actor_id, e.changes) for e in entries] == [
        (w.pk, user.pk, {"object": [str(w), None]}) for w in sorted(windows, key=lambda w: w.pk)]
