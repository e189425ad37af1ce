"""The map's lot card tells a lot's booking rules (issue 9): the lots app asks through its port
(``apps.lots.bookings``), which the reservations app fills; a lot without sites costs no query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.lots import bookings
from apps.reservations.models import BerthKind, BookingSite
from apps.reservations.selectors import lot_booking_rules
from tests.factories import LotFactory
from tests.factories_reservations import HospitalFactory, SlotFactory

pytestmark = pytest.mark.django_db


def test_the_lot_detail_tells_the_ev_booking_rule(api_client, city):
    site = HospitalFactory(name="万达广场充电预约", kind=BookingSite.Kind.LOT, waives_fee=False, ev_free_minutes=120,
                           booking_window_days=3)
    SlotFactory(hospital=site, berth_kind=BerthKind.EV)
    body = api_client.get(f"/api/v1/lots/{site.lot.code}/").json()
    assert body["booking_rules"] == ["可预约充电泊位：到达后 120 分钟内停车免费（充停一体化），可提前 3 天预约"]


def test_a_hospital_that_waives_the_fee_says_so_and_a_site_closed_or_without_ev_slots_says_nothing(city):
    hospital = HospitalFactory(name="市人民医院")
    assert lot_booking_rules(hospital.lot) == ["市人民医院：预约后按时到达，停车免费"]
    hospital.active = False
    hospital.save()
    assert lot_booking_rules(hospital.lot) == []
    ev_site = HospitalFactory(kind=BookingSite.Kind.LOT, waives_fee=False, ev_free_minutes=60)
    assert lot_booking_rules(ev_site.lot) == []  # no EV berths offered for booking


def test_a_lot_without_sites_has_no_rules_and_costs_no_query(city):
    lot = LotFactory()
    HospitalFactory()  # the cache of the lots with sites is built once
    lot_booking_rules(lot)
    with CaptureQueriesContext(connection) as queries:
        assert bookings.booking_rules(lot) == []
    assert len(queries) == 0
