"""Issue 12 item 4: staff views of full plates are logged — who saw which objects, when — one row a
page (list, object page, CSV export), never one a row."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from apps.audit.middleware import shows_plates
from apps.audit.models import PlateView
from apps.payments.models import Order
from apps.sessions.models import Arrears, ParkingSession
from tests.factories import LotFactory
from tests.factories_complaints import make_ticket
from tests.factories_sessions import SessionFactory
from tests.factories_wechat import BoundPlateFactory

pytestmark = pytest.mark.django_db

#: every admin whose pages show full plates; a new one is detected by ``shows_plates`` and must be
#: added here (and so thought about) or this list fails
PLATED_ADMINS = {
    "parking_sessions.ParkingSession", "parking_sessions.Arrears", "parking_sessions.IngestEvent",
    "payments.Order", "payments.RecoveryArrears", "payments.ArrearsReminder", "payments.ArrearsListing",
    "payments.Blacklist", "payments.PaymentAgreement", "complaints.Ticket", "reservations.Reservation",
    "reservations.SharingApplication", "reservations.SharingContract", "wechat.Citizen", "wechat.BoundPlate",
}


@pytest.fixture
def auditor(django_user_model, client):
    user = django_user_model.objects.create_superuser("city-auditor", password="pass-Wuxi-2026")
    client.force_login(user)
    return user


def views():
    return list(PlateView.objects.order_by("pk"))


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_the_plated_admins_are_exactly_the_known_ones():
    found = {model._meta.label for model, model_admin in admin.site._registry.items() if shows_plates(model_admin)}
    assert found == PLATED_ADMINS


def test_every_plated_admin_page_is_wired_for_the_log():
    """The middleware finds the admin behind a page through the URL (``model_admin``): each plated
    admin's list and object pages must carry it."""
    from django.urls import resolve

    for model, model_admin in admin.site._registry.items():
        if shows_plates(model_admin):
            assert resolve(changelist(model)).func.model_admin is model_admin
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[1])
            assert resolve(url).func.model_admin is model_admin


def test_a_list_page_is_one_row_with_the_ids_it_showed(client, auditor):
    lot = LotFactory()
    shown = [SessionFactory(lot=lot) for _ in range(3)]
    response = client.get(changelist(ParkingSession), {"q": shown[0].plate}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    (view,) = views()
    assert (view.viewer, view.viewer_name, view.kind, view.count) == (auditor, "city-auditor", "list", 1)
    assert view.content_type == ContentType.objects.get_for_model(ParkingSession)
    assert view.object_ids == [str(shown[0].pk)] and view.ip == "10.1.2.3"
    assert view.path.startswith("/admin/parking_sessions/parkingsession/?q=")

    client.get(changelist(ParkingSession))
    assert sorted(views()[-1].object_ids) == sorted(str(s.pk) for s in shown) and len(views()) == 2


def test_object_pages_of_sessions_arrears_orders_tickets_and_bindings_are_logged(client, auditor):
    lot = LotFactory()
    stay = SessionFactory(lot=lot, state="closed", closed_at=timezone.now())
    debt = Arrears.objects.create(session=stay, plate=stay.plate, lot=lot, amount_fen=100, created_at=timezone.now())
    now = timezone.now()
    order = Order.objects.create(order_no=uuid.uuid4().hex[:24], channel="sandbox", amount_fen=100, plate=stay.plate,
                                 created_at=now, expires_at=now + timedelta(minutes=15))
    ticket = make_ticket(lot=lot, plate=stay.plate)
    binding = BoundPlateFactory(plate=stay.plate)
    for obj in (stay, debt, order, ticket, binding, binding.citizen):
        response = client.get(change(obj))
        assert response.status_code == 200, obj
    assert [(v.content_type.model_class(), v.kind, v.object_ids) for v in views()] == [
        (type(obj), "change", [str(obj.pk)]) for obj in (stay, debt, order, ticket, binding, binding.citizen)]


def test_a_csv_export_is_one_row_with_the_chosen_ids(client, auditor):
    lot = LotFactory()
    chosen = [SessionFactory(lot=lot) for _ in range(2)]
    SessionFactory(lot=lot)
    response = client.post(changelist(ParkingSession), {"action": "export_csv",
                                                        "_selected_action": [s.pk for s in chosen]})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    (view,) = views()
    assert view.kind == "export" and sorted(view.object_ids) == sorted(str(s.pk) for s in chosen)
    assert view.count == 2


def test_one_insert_a_page_however_many_rows(client, auditor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lot = LotFactory()
    for _ in range(20):
        SessionFactory(lot=lot)
    with CaptureQueriesContext(connection) as queries:
        client.get(changelist(ParkingSession))
    inserts = [q["sql"] for q in queries.captured_queries if "audit_plateview" in q["sql"]]
    assert len(inserts) == 1 and inserts[0].startswith("INSERT")
    assert len(views()[0].object_ids) == 20


def test_pages_without_plates_refusals_and_empty_lists_are_not_logged(client, auditor, officer):
    client.get(reverse("admin:lots_parkinglot_changelist"))
    client.get(changelist(ParkingSession))  # nothing to show
    assert views() == []
    SessionFactory(lot=LotFactory())
    client.force_login(officer)  # a region's officer without the city's lots: no page of sessions shown
    response = client.get(reverse("admin:auth_user_changelist"))
    assert response.status_code == 403
    assert views() == []


def test_the_log_is_read_only_and_the_city_reads_everyones_others_their_own(client, auditor, officer):
    SessionFactory(lot=LotFactory())
    client.get(changelist(ParkingSession))
    assert PlateView.objects.for_user(auditor).count() == 1
    assert PlateView.objects.for_user(officer).count() == 0
    response = client.get(reverse("admin:audit_plateview_changelist"))
    assert response.status_code == 200 and "city-auditor" in response.content.decode()
    assert len(views()) == 1  # reading the log is not itself logged
    assert client.get(reverse("admin:audit_plateview_add")).status_code == 403
