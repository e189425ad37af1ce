"""The staff audit log: services write one entry per action (who, what, when, from where); the
admin shows it read-only, scoped like the objects it is about."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.common.actor import Actor
from apps.lots.models import ParkingLot
from apps.lots.services import device_revoke, device_rotate_secret, lot_save
from tests.factories import DeviceFactory, LotFactory

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"


def test_closing_a_lot_in_the_admin_writes_one_entry_with_where_it_came_from(logged_in, city, officer):
    lot = LotFactory(code="LX-0700", region=city[LX])
    logged_in.post(reverse("admin:lots_parkinglot_changelist"),
                   {"action": "mark_closed", "_selected_action": [lot.pk]},
                   REMOTE_ADDR="192.168.3.4", HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0)")
    entry = AuditEntry.objects.get()
    assert entry.action == "lot.closed"
    assert (entry.actor, entry.actor_name) == (officer, officer.username)
    assert (entry.ip, entry.user_agent) == ("192.168.3.4", "Mozilla/5.0 (Windows NT 10.0)")
    assert (entry.content_type.model_class(), entry.object_id, entry.object_repr) == (ParkingLot, lot.pk, str(lot))
    assert entry.changes == {"status": ["open", "closed"]}


def test_device_key_actions_are_audited_without_the_secret(city, officer):
    lot = LotFactory(code="LX-0701", region=city[LX])
    device, secret = DeviceFactory.issue(lots=[lot])
    new_secret = device_rotate_secret(device=device, actor=Actor(user=officer, ip="10.9.8.7"))
    device_revoke(device=device, actor=officer)
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["device.key_rotated", "device.revoked"]  # issued by the system: no staff entry
    for entry in AuditEntry.objects.all():
        assert secret not in str(entry.changes) and new_secret not in str(entry.changes)
    assert AuditEntry.objects.get(action="device.key_rotated").ip == "10.9.8.7"


def test_a_system_write_and_a_save_that_changes_nothing_write_no_entry(city, officer):
    lot = lot_save(lot=ParkingLot(code="LX-0702", name="甲", region=city[LX], lat=31.57, lon=120.30,
                                  total_berths=10))
    assert not AuditEntry.objects.exists()
    lot_save(lot=lot, actor=officer)
    assert not AuditEntry.objects.exists()
    lot.name = "乙"
    lot_save(lot=lot, actor=officer)
    assert AuditEntry.objects.get().changes == {"name": ["甲", "乙"]}


def test_the_audit_admin_is_read_only_and_scoped(client, city, officer, staff_factory):
    lx = LotFactory(code="LX-0703", name="梁溪某停车场", region=city[LX])
    bh = LotFactory(code="BH-0703", name="滨湖某停车场", region=city[BH])
    city_admin = staff_factory("city")
    for lot in (lx, bh):
        lot.category = ParkingLot.Category.HOSPITAL
        lot_save(lot=lot, actor=city_admin)
    from apps.regions.services import staff_grant_default_permissions

    staff_grant_default_permissions(user=officer)
    client.force_login(officer)
    listing = client.get(reverse("admin:audit_auditentry_changelist"))
    assert listing.status_code == 200
    assert "梁溪某停车场" in listing.text and "滨湖某停车场" not in listing.text
    bh_entry = AuditEntry.objects.get(object_id=bh.pk)
    assert client.get(reverse("admin:audit_auditentry_change", args=[bh_entry.pk])).status_code == 302
    lx_entry = AuditEntry.objects.get(object_id=lx.pk)
    page = client.get(reverse("admin:audit_auditentry_change", args=[lx_entry.pk]))
    assert page.status_code == 200
    assert "类别" in page.text and "公共停车场 → 医院" in page.text and "hospital" not in page.text
    assert not page.context["has_change_permission"] and not page.context["has_delete_permission"]
    client.force_login(city_admin)
    assert client.get(reverse("admin:audit_auditentry_changelist")).context["cl"].result_count == 2


def test_the_audit_app_imports_no_app_above_it():
    import ast
    from pathlib import Path

    from django.conf import settings

    for path in (Path(settings.BASE_DIR) / "apps" / "audit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("apps."):
                assert node.module.split(".")[1] in {"audit", "common"}, (path, node.module)
