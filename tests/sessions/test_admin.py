"""Sessions, arrears and the ingest log in the admin: scoped by region, filtered, read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.sessions.models import Arrears, IngestEvent
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"


@pytest.fixture
def lots(city):
    return {LX: LotFactory(region=city[LX]), BH: LotFactory(region=city[BH])}


@pytest.fixture
def officer(staff_factory, client):
    user = staff_factory("region", LX)
    client.force_login(user)
    return user


def _changelist(client, model: str, **params):
    response = client.get(reverse(f"admin:parking_sessions_{model}_changelist"), params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_staff_see_only_their_regions_sessions(client, officer, lots):
    mine = SessionFactory(lot=lots[LX], plate="苏B11111")
    theirs = SessionFactory(lot=lots[BH], plate="苏B22222")
    assert _changelist(client, "parkingsession") == [mine]
    assert client.get(reverse("admin:parking_sessions_parkingsession_change", args=[mine.pk])).status_code == 200
    response = client.get(reverse("admin:parking_sessions_parkingsession_change", args=[theirs.pk]))
    assert response.status_code in (302, 403, 404)


def test_city_staff_see_every_region(client, staff_factory, lots):
    client.force_login(staff_factory("city"))
    SessionFactory(lot=lots[LX])
    SessionFactory(lot=lots[BH])
    assert len(_changelist(client, "parkingsession")) == 2


def test_session_filters_and_plate_search(client, officer, lots):
    review = SessionFactory(lot=lots[LX], plate="苏B11111", state="review", release_reason="review")
    SessionFactory(lot=lots[LX], plate="苏B22222")
    assert _changelist(client, "parkingsession", state="review") == [review]
    assert _changelist(client, "parkingsession", release_reason="review") == [review]
    assert _changelist(client, "parkingsession", lot__region__id__exact=lots[LX].region_id) != []
    assert _changelist(client, "parkingsession", q="苏b·11111") == [review]  # typed as read, found as stored


def test_sessions_are_read_only(client, officer, lots):
    session = SessionFactory(lot=lots[LX], amount_fen=500)
    url = reverse("admin:parking_sessions_parkingsession_change", args=[session.pk])
    response = client.post(url, {"amount_fen": "0", "state": "closed"})
    assert response.status_code == 403
    session.refresh_from_db()
    assert (session.amount_fen, session.state) == (500, "open")
    assert client.get(reverse("admin:parking_sessions_parkingsession_add")).status_code == 403


def test_arrears_unpaid_filter_and_scope(client, officer, lots):
    now = timezone.now()
    unpaid = Arrears.objects.create(session=SessionFactory(lot=lots[LX], state="closed"), plate="苏B11111",
                                    lot=lots[LX], amount_fen=800, created_at=now)
    paid = Arrears.objects.create(session=SessionFactory(lot=lots[LX], state="closed"), plate="苏B22222",
                                  lot=lots[LX], amount_fen=300, created_at=now - timedelta(days=1),
                                  paid_at=now)
    Arrears.objects.create(session=SessionFactory(lot=lots[BH], state="closed"), plate="苏B33333", lot=lots[BH],
                           amount_fen=100, created_at=now)
    assert _changelist(client, "arrears", unpaid="yes") == [unpaid]
    assert _changelist(client, "arrears", unpaid="no") == [paid]
    assert {a.pk for a in _changelist(client, "arrears")} == {unpaid.pk, paid.pk}
    assert list(Arrears.objects.unpaid().order_by("pk")) == [unpaid, Arrears.objects.get(plate="苏B33333")]


def test_ingest_log_is_scoped(client, officer, lots):
    for lot in lots.values():
        IngestEvent.objects.create(lot=lot, event_id="e1", type="heartbeat", occurred_at=timezone.now(),
                                   received_at=timezone.now(), batch="00000000-0000-0000-0000-000000000001",
                                   payload={})
    assert [e.lot_id for e in _changelist(client, "ingestevent")] == [lots[LX].pk]


def test_changelist_query_count_does_not_grow(client, officer, lots, django_assert_max_num_queries):
    for i in range(30):
        SessionFactory(lot=lots[LX], plate=f"苏B3{i:04d}")
    with django_assert_max_num_queries(20):
        assert len(_changelist(client, "parkingsession")) == 30
