"""Staff side (issue 9 items 1, 5, 7, 8): the admin and the staff views scoped by the one mechanism
(a site's or lot's region staff and the lot's operator), audited, with cross-region tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.reservations import services
from apps.reservations.models import BookingSite, SharingApplication, SharingContract, Slot, Suspension
from tests.factories import LotFactory, OperatorFactory, UserFactory
from tests.factories_reservations import HospitalFactory, SharingOfferFactory, SlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_regions(city):
    """A 梁溪 site and a 滨湖 site, each with a slot and a suspension, an offer with an application."""
    made = {}
    for code in ("320213", "320211"):
        operator = OperatorFactory()
        site = HospitalFactory(lot=LotFactory(region=city[code], operator=operator), name=f"医院{code}")
        starts = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
        slot = SlotFactory(hospital=site, starts_at=starts)
        suspension = Suspension.objects.create(hospital=site, user=UserFactory(), starts_at=timezone.now(),
                                               until=timezone.now() + timedelta(days=30), no_shows=3)
        offer = SharingOfferFactory(lot=site.lot)
        application = SharingApplication.objects.create(offer=offer, user=UserFactory(), plate="苏B12345",
                                                        address="某小区", created_at=timezone.now())
        made[code] = {"site": site, "slot": slot, "suspension": suspension, "offer": offer,
                      "application": application, "operator": operator}
    return made


@pytest.mark.parametrize("path", ["bookingsite", "slot", "suspension", "sharingoffer", "sharingapplication",
                                  "reservation", "sharingcontract"])
def test_an_officer_sees_only_their_regions_rows(logged_in, two_regions, path, bound, officer):
    for code in ("320213", "320211"):  # a booking and a contract in each region too
        made = two_regions[code]
        services.reservation_book(user=bound.bind(UserFactory(), f"苏B{code[-3:]}88"), slot_id=made["slot"].pk,
                                  plate=f"苏B{code[-3:]}88")
        services.sharing_application_approve(application_id=made["application"].pk, actor=None)
        SharingApplication.objects.create(offer=made["offer"], user=UserFactory(), plate="苏B54321", address="某小区",
                                          created_at=timezone.now())
    response = logged_in.get(f"/admin/reservations/{path}/")
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    ours = two_regions["320213"]["site"].lot
    lots = {getattr(row, "lot", None) or getattr(getattr(row, "offer", None), "lot", None)
            or getattr(getattr(row, "hospital", None), "lot", None) for row in shown}
    assert shown and lots == {ours}, path


def test_another_regions_site_is_not_found(logged_in, two_regions):
    theirs = two_regions["320211"]["site"]
    response = logged_in.get(f"/admin/reservations/bookingsite/{theirs.pk}/change/")
    assert response.status_code in (302, 404)
    assert two_regions["320213"]["site"].name in logged_in.get(
        f"/admin/reservations/bookingsite/{two_regions['320213']['site'].pk}/change/").content.decode()


def test_scopes_by_the_one_mechanism(two_regions, officer, staff_factory):
    ours, theirs = two_regions["320213"], two_regions["320211"]
    for model in (BookingSite, Slot, Suspension, SharingApplication):
        assert model.objects.for_user(officer).count() == 1, model
    operator_staff = staff_factory("operator", theirs["operator"])
    assert list(BookingSite.objects.for_user(operator_staff)) == [theirs["site"]]
    assert list(BookingSite.objects.writable_by(officer)) == [ours["site"]]


def test_lifting_a_suspension_in_the_admin_is_audited_and_scoped(logged_in, two_regions, officer):
    ours, theirs = two_regions["320213"]["suspension"], two_regions["320211"]["suspension"]
    response = logged_in.post("/admin/reservations/suspension/", {
        "action": "lift", "_selected_action": [ours.pk, theirs.pk]})
    assert response.status_code == 302
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.lifted_by_id == officer.pk and theirs.lifted_at is None
    assert AuditEntry.objects.get(action="booking_suspension.lifted").object_id == ours.pk


def test_approving_in_the_admin_makes_a_contract_and_is_audited(logged_in, two_regions, officer):
    ours, theirs = two_regions["320213"]["application"], two_regions["320211"]["application"]
    logged_in.post("/admin/reservations/sharingapplication/", {
        "action": "approve", "_selected_action": [ours.pk, theirs.pk]})
    contract = SharingContract.objects.get()
    assert (contract.application_id, contract.state, contract.plate) == (ours.pk, "active", "苏B12345")
    assert SharingApplication.objects.get(pk=theirs.pk).state == "pending"
    assert AuditEntry.objects.get(action="sharing_application.approved").actor_id == officer.pk


def test_editing_a_sites_rules_goes_through_the_service(logged_in, two_regions):
    site = two_regions["320213"]["site"]
    data = {"name": site.name, "kind": "hospital", "lot": site.lot_id, "active": "on",
            "booking_window_days": 3, "booking_cutoff_minutes": 30, "cancel_cutoff_minutes": 60,
            "arrive_before_minutes": 60, "arrive_after_minutes": 30, "default_stay_minutes": 180,
            "waives_fee": "on", "ev_free_minutes": 0, "no_show_limit": 3, "no_show_period_days": 30,
            "suspension_days": 30, "slots-TOTAL_FORMS": 0, "slots-INITIAL_FORMS": 0}
    slot = two_regions["320213"]["slot"]
    data.update({"slots-TOTAL_FORMS": 1, "slots-INITIAL_FORMS": 1, "slots-0-id": slot.pk, "slots-0-hospital": site.pk,
                 "slots-0-berth_kind": "standard",
                 "slots-0-starts_at_0": timezone.localtime(slot.starts_at).strftime("%Y-%m-%d"),
                 "slots-0-starts_at_1": timezone.localtime(slot.starts_at).strftime("%H:%M:%S"),
                 "slots-0-ends_at_0": timezone.localtime(slot.ends_at).strftime("%Y-%m-%d"),
                 "slots-0-ends_at_1": timezone.localtime(slot.ends_at).strftime("%H:%M:%S"),
                 "slots-0-quota": 4})
    response = logged_in.post(f"/admin/reservations/bookingsite/{site.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert BookingSite.objects.get(pk=site.pk).booking_window_days == 3
    assert Slot.objects.get(pk=slot.pk).quota == 4
    assert AuditEntry.objects.get(action="hospital.changed").changes == {"booking_window_days": [7, 3]}
    assert AuditEntry.objects.get(action="slot.changed").changes == {"quota": [10, 4]}


def test_staff_stats_are_scoped(api_client, two_regions, officer, bound):
    ours = two_regions["320213"]
    user = bound.bind(UserFactory(), "苏B55555")
    services.reservation_book(user=user, slot_id=ours["slot"].pk, plate="苏B55555")
    services.reservation_book(user=bound.bind(UserFactory(), "苏B66666"), slot_id=two_regions["320211"]["slot"].pk,
                              plate="苏B66666")
    services.sharing_application_approve(application_id=ours["application"].pk, actor=officer)
    api_client.force_authenticate(officer)
    rows = api_client.get("/api/v1/staff/reservations/stats").json()
    assert [(r["hospital"], r["places"], r["booked"]) for r in rows] == [("医院320213", 10, 1)]
    sharing = api_client.get("/api/v1/staff/sharing/stats").json()
    assert [(r["lot_code"], r["contracts"], r["active"], r["revenue_fen"]) for r in sharing] == [
        (ours["site"].lot.code, 1, 1, 15000)]
    api_client.force_authenticate(UserFactory())
    assert api_client.get("/api/v1/staff/sharing/stats").status_code == 403


def test_the_stats_pages_in_the_admin_are_scoped(logged_in, two_regions, officer, bound):
    services.reservation_book(user=bound.bind(UserFactory(), "苏B55555"), slot_id=two_regions["320213"]["slot"].pk,
                              plate="苏B55555")
    services.sharing_application_approve(application_id=two_regions["320213"]["application"].pk, actor=officer)
    page = logged_in.get("/admin/reservations/bookingsite/stats/").content.decode()
    assert "医院320213" in page and "医院320211" not in page
    assert 'href="/admin/reservations/bookingsite/stats/"' in logged_in.get(
        "/admin/reservations/bookingsite/").content.decode()
    sharing = logged_in.get("/admin/reservations/sharingcontract/stats/").content.decode()
    assert two_regions["320213"]["site"].lot.code in sharing and "150.00" in sharing
    assert two_regions["320211"]["site"].lot.code not in sharing
