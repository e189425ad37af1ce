"""Berths edited by staff in the admin go through berth_save / berth_delete: the lot, then the
berth, are locked as ingest locks them; only the registry fields are written, so the debounce
fields a sensor reading set meanwhile survive; a change of state moves an on-street lot's count."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.berths.errors import BerthError
from apps.berths.models import Berth
from apps.berths.services import berth_save
from apps.lots.models import ParkingLot
from tests.factories import LotFactory
from tests.factories_sessions import BerthFactory

LX = "320213"


@pytest.fixture
def street(city):
    return LotFactory(code="LX-ST01", region=city[LX], kind=ParkingLot.Kind.ON_STREET, zone_class="core",
                      road_class="arterial", total_berths=10, free_berths=9, tariff=None)


def _berth_form(berth, **overrides):
    data = {"code": berth.code, "kind": berth.kind, "floor": berth.floor, "sensor_id": berth.sensor_id,
            "state": berth.state}
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_an_admin_save_keeps_the_debounce_fields_a_reading_set_meanwhile(logged_in, street):
    berth = BerthFactory(lot=street, code="A01", state=Berth.State.OCCUPIED)
    url = reverse("admin:berths_berth_change", args=[berth.pk])
    page = logged_in.get(url)
    assert page.status_code == 200
    # While the officer has the page open, a sensor reading starts a pending change.
    pending_since = timezone.now() - timedelta(seconds=3)
    Berth.objects.filter(pk=berth.pk).update(pending_state=Berth.State.VACANT, pending_since=pending_since,
                                             reading_at=pending_since)
    response = logged_in.post(url, _berth_form(berth, floor="B2"))
    assert response.status_code == 302
    berth.refresh_from_db()
    assert berth.floor == "B2"
    assert (berth.pending_state, berth.pending_since, berth.reading_at) == ("vacant", pending_since, pending_since)
    assert ParkingLot.objects.get(pk=street.pk).free_berths == 9  # the state did not change: no move


@pytest.mark.django_db
def test_taking_an_occupied_berth_out_of_service_frees_the_on_street_count_and_publishes(
        logged_in, street, officer, django_capture_on_commit_callbacks):
    berth = BerthFactory(lot=street, code="A01", state=Berth.State.OCCUPIED)
    url = reverse("admin:berths_berth_change", args=[berth.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        response = logged_in.post(url, _berth_form(berth, state="out_of_service"), REMOTE_ADDR="10.0.0.8")
    assert response.status_code == 302
    assert len(callbacks) == 1  # the lot is published after commit
    assert ParkingLot.objects.get(pk=street.pk).free_berths == 10
    berth.refresh_from_db()
    assert berth.state == "out_of_service" and berth.state_changed_at is not None
    entry = AuditEntry.objects.get(action="berth.changed")
    assert (entry.actor, entry.ip, entry.changes) == (officer, "10.0.0.8", {"state": ["occupied", "out_of_service"]})
    # back in service as occupied: the count follows
    logged_in.post(url, _berth_form(berth, state="occupied"))
    assert ParkingLot.objects.get(pk=street.pk).free_berths == 9


@pytest.mark.django_db
def test_an_off_street_lots_count_follows_its_gates_not_its_berths(logged_in, city):
    lot = LotFactory(code="LX-OFF1", region=city[LX], total_berths=10, free_berths=4)
    berth = BerthFactory(lot=lot, code="A01", state=Berth.State.OCCUPIED)
    logged_in.post(reverse("admin:berths_berth_change", args=[berth.pk]), _berth_form(berth, state="out_of_service"))
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 4


@pytest.mark.django_db
def test_a_berth_stays_in_its_lot(street, city, officer):
    berth = BerthFactory(lot=street, code="A01")
    other = LotFactory(code="LX-ST02", region=city[LX])
    berth.lot = other
    with pytest.raises(BerthError) as refused:
        berth_save(berth=berth, actor=officer)
    assert refused.value.field == "lot"
    assert Berth.objects.get(pk=berth.pk).lot_id == street.pk


@pytest.mark.django_db
def test_add_and_delete_in_the_admin_are_audited(logged_in, street):
    response = logged_in.post(reverse("admin:berths_berth_add"),
                              {"lot": street.pk, "code": "N1", "kind": "standard", "floor": "", "sensor_id": "",
                               "state": "unknown"})
    assert response.status_code == 302
    berth = Berth.objects.get(code="N1")
    response = logged_in.post(reverse("admin:berths_berth_delete", args=[berth.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Berth.objects.filter(pk=berth.pk).exists()
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == ["berth.created",
                                                                                         "berth.deleted"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_admin_save_waits_for_an_ingest_holding_the_lot_and_overwrites_none_of_its_work(city, officer):
    """Real threads on PostgreSQL: ingest holds the lot's lock and applies a reading; the officer's
    save of the same berth waits for it and then keeps what the reading wrote."""
    street = LotFactory(code="LX-ST09", region=city[LX], kind=ParkingLot.Kind.ON_STREET, zone_class="core",
                        road_class="arterial", total_berths=10, free_berths=10, tariff=None)
    berth = BerthFactory(lot=street, code="A01", state=Berth.State.VACANT)
    stale = Berth.objects.get(pk=berth.pk)  # what the admin form was built from
    locked, done = threading.Event(), threading.Event()
    reading_at = timezone.now()
    errors = []

    def ingest():
        try:
            with transaction.atomic():
                ParkingLot.objects.select_for_update().get(pk=street.pk)
                locked.set()
                time.sleep(0.5)
                Berth.objects.filter(pk=berth.pk).update(pending_state="occupied", pending_since=reading_at,
                                                         reading_at=reading_at)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    def admin_save():
        try:
            locked.wait(5)
            stale.floor = "B1"
            berth_save(berth=stale, actor=officer)
            assert done.is_set()  # it waited for the lot's lock
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest), threading.Thread(target=admin_save)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    berth.refresh_from_db()
    assert berth.floor == "B1"
    assert (berth.pending_state, berth.pending_since, berth.reading_at) == ("occupied", reading_at, reading_at)
