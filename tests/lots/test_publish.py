"""Issue 6 item 10: a lot closed (or opened) by staff reaches the map at once, after commit, on
the same path ingest uses (apps.realtime.publish), and not at all when the save rolls back."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.urls import reverse

from apps.lots.models import ParkingLot
from apps.lots.services import lot_save
from apps.realtime.publish import OCCUPANCY_GROUP
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener():
    """A channel in the occupancy group, as a server's hub is: returns what reached it."""
    layer = get_channel_layer()
    # A plain channel name (not a process-specific one): receivable from any event loop, on Redis too.
    channel = f"test-occupancy-{uuid.uuid4().hex}"
    async_to_sync(layer.group_add)(OCCUPANCY_GROUP, channel)

    async def drain():
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
            except TimeoutError:
                return received

    yield lambda: [lot for message in async_to_sync(drain)() for lot in message["lots"]]
    async_to_sync(layer.group_discard)(OCCUPANCY_GROUP, channel)


@pytest.fixture
def lot(city):
    return LotFactory(code="LX-0500", region=city["320213"])


def test_closing_a_lot_in_the_admin_is_published_after_commit(logged_in, lot, listener,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = logged_in.post(reverse("admin:lots_parkinglot_changelist"),
                                  {"action": "mark_closed", "_selected_action": [lot.pk]})
    assert response.status_code == 302
    assert listener() == []  # nothing before the commit
    for callback in callbacks:
        callback()
    published = listener()
    assert [(p["code"], p["status"]) for p in published] == [("LX-0500", "closed")]


def test_reopening_is_published_too_and_a_save_that_changes_nothing_the_map_shows_is_not(lot, officer, listener,
                                                                                         django_capture_on_commit_callbacks):
    lot.status = ParkingLot.Status.CLOSED
    with django_capture_on_commit_callbacks(execute=True):
        lot_save(lot=lot, actor=officer)
    assert [p["status"] for p in listener()] == ["closed"]
    lot.status = ParkingLot.Status.OPEN
    with django_capture_on_commit_callbacks(execute=True):
        lot_save(lot=lot, actor=officer)
    assert [p["status"] for p in listener()] == ["open"]
    lot.address = "无锡市梁溪区人民中路"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        lot_save(lot=lot, actor=officer)
    assert listener() == [] and callbacks == []


def test_a_close_that_rolls_back_is_never_published(lot, officer, listener, django_capture_on_commit_callbacks):
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        lot.status = ParkingLot.Status.CLOSED
        lot_save(lot=lot, actor=officer)
        raise RuntimeError("a later step of the same save failed")
    assert callbacks == []
    assert listener() == []
    assert ParkingLot.objects.get(pk=lot.pk).status == ParkingLot.Status.OPEN


def test_closing_a_lot_on_its_change_page_is_published(logged_in, lot, listener, django_capture_on_commit_callbacks):
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk])
    page = logged_in.get(url)
    form = page.context["adminform"].form
    data = {name: ("" if form[name].value() is None else form[name].value()) for name in form.fields
            if name != "position"}
    data.update(position_lat=str(lot.lat), position_lon=str(lot.lon), status="closed")
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [(p["code"], p["status"]) for p in listener()] == [("LX-0500", "closed")]
