"""Every admin page and every staff endpoint has a cross-region test (STYLE.md "One place for scope").

The registry below names, for each registered ModelAdmin and each route under /api/v1/staff/, the
test that shows a 梁溪 (320213) officer cannot see or change a 滨湖 (320211) row: an existing test
elsewhere, the generic list-and-id test here (a row made in each district by tests/security/autofill),
or, for what belongs to no district, the test here that a district officer cannot change it or open it
at all. A new admin or staff route with no entry fails ``test_every_admin_and_staff_route_has_a_cross_region_test``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.autofill import Place, make

LX, BH = "320213", "320211"

# Covered by a test elsewhere: "path::test".
ELSEWHERE = {
    "auth.User": "tests/regions/test_admin.py::test_region_officer_cannot_reach_user_admin_even_with_permission",
    "regions.Region": "tests/regions/test_admin.py::test_region_officer_sees_only_own_region_and_cannot_edit_it",
    "regions.Operator": "tests/regions/test_admin.py::"
                        "test_a_city_level_operator_is_read_only_for_a_district_officer_and_an_unchanged_save_"
                        "nulls_nothing",
    "lots.ParkingLot": "tests/common/test_scope.py::test_changelist_lists_only_own_region",
    "lots.Tariff": "tests/common/test_scope.py::test_shared_tariffs_seen_by_all_region_tariffs_only_by_region",
    "lots.Device": "tests/lots/test_admin.py::"
                   "test_a_device_shared_with_another_region_is_read_only_and_its_key_cannot_be_taken",
    "parking_sessions.ParkingSession": "tests/sessions/test_admin.py::test_staff_see_only_their_regions_sessions",
    "parking_sessions.Arrears": "tests/sessions/test_admin.py::test_arrears_unpaid_filter_and_scope",
    "parking_sessions.IngestEvent": "tests/sessions/test_admin.py::test_ingest_log_is_scoped",
    "payments.Order": "tests/payments/test_admin.py::test_staff_see_only_their_regions_money",
    "payments.Payment": "tests/payments/test_admin.py::test_staff_see_only_their_regions_money",
    "payments.PaymentException": "tests/payments/test_admin.py::test_staff_see_only_their_regions_money",
    "payments.Refund": "tests/payments/test_admin.py::test_staff_see_only_their_regions_money",
    "payments.PayCodeLot": "tests/payments/test_admin.py::test_the_sheet_of_another_regions_lot_is_not_there",
    "payments.Statement": "tests/money/test_admin.py::test_a_districts_staff_see_their_district_only",
    "payments.RecoveryArrears": "tests/money/test_admin.py::test_a_districts_staff_see_their_district_only",
    "payments.MoneyPolicy": "tests/money/test_admin.py::"
                            "test_a_district_sets_its_own_refund_threshold_but_not_the_citys_rates",
    "complaints.DispatchRule": "tests/complaints/test_admin.py::test_dispatch_rules_are_scoped",
    "complaints.Open311Key": "tests/complaints/test_admin.py::"
                             "test_open311_keys_are_seen_and_revoked_by_city_staff_only",
    "payments.PaymentAgreement": "tests/money/test_agreements.py::test_staff_manage_only_agreements_in_their_scope",
    "wechat.Citizen": "tests/wechat/test_admin.py::test_the_admin_pages_follow_the_scope",
    "wechat.BoundPlate": "tests/wechat/test_admin.py::test_the_admin_pages_follow_the_scope",
    "wechat.Notice": "tests/wechat/test_admin.py::test_a_district_officer_may_not_resend_notices",
    "analytics.SupervisionCase": "tests/analytics/supervision/test_admin.py::"
                                 "test_an_officer_cannot_open_or_work_another_district_s_case_by_id",
    "analytics.SupervisionRule": "tests/analytics/supervision/test_admin.py::"
                                 "test_rules_are_read_by_district_staff_and_changed_only_by_the_city",
    "analytics.Dashboard": "tests/analytics/dashboards/test_dashboard.py::"
                           "test_a_liangxi_officer_sees_no_binhu_numbers_in_the_page_or_any_export",
    "analytics.Target": "tests/analytics/dashboards/test_admin.py::"
                        "test_a_district_officer_cannot_change_a_city_wide_target",
    "audit.PlateView": "tests/privacy/test_plate_views.py::"
                       "test_the_log_is_read_only_and_the_city_reads_everyones_others_their_own",
    **{f"reservations.{name}": "tests/reservations/test_admin.py::test_an_officer_sees_only_their_regions_rows"
       for name in ("BookingSite", "Slot", "Reservation", "Suspension", "SharingOffer", "SharingApplication",
                    "SharingContract")},
}



def _session(place):
    from tests.factories_sessions import SessionFactory

    return SessionFactory(lot=place.lot, plate="苏B12345")


def _arrears(place):
    from apps.sessions.models import Arrears

    return make(Arrears, place, session=_session(place))


def _window(place):
    from django.utils import timezone

    return {"starts_at": timezone.now(), "ends_at": timezone.now() + timezone.timedelta(hours=1)}


# The generic list-and-id test below: a row in each district, made by tests/security/autofill with
# these fields given (the rest filled in).
GENERIC = {
    "berths.Berth": lambda place: {},
    "complaints.Unit": lambda place: {"kind": "region", "operator": None},
    "complaints.Ticket": lambda place: {},
    "lots.FreeWindow": _window,
    "lots.LotOutage": lambda place: {},
    "payments.Blacklist": lambda place: {},
    "payments.ReminderRule": lambda place: {},
    "payments.ArrearsListing": lambda place: {},
    "payments.ArrearsReminder": lambda place: {},
    "payments.AgreementCharge": lambda place: {"arrears": _arrears(place)},
    "audit.AuditEntry": None,  # made through the audit service, on a lot of the district
}

# Belongs to no district. "superuser": a district officer cannot open it; "shared": read by all, changed by none.
NO_DISTRICT = {
    "auth.Group": "superuser", "authtoken.TokenProxy": "superuser", "otp_totp.TOTPDevice": "superuser",
    "axes.AccessAttempt": "superuser", "axes.AccessLog": "superuser", "axes.AccessFailureLog": "superuser",
    "complaints.Category": "shared", "complaints.LocalDay": "shared",
}

STAFF_API = {
    "staff-lot-list": "tests/lots/test_staff_api.py::test_a_region_officer_sees_only_their_regions_lots",
    "staff-lot-detail": "tests/lots/test_staff_api.py::test_a_region_officer_sees_only_their_regions_lots",
    "staff-ticket-list": "tests/complaints/test_staff_api.py::test_a_binhu_officer_never_sees_a_liangxi_ticket",
    "staff-ticket-detail": "tests/complaints/test_staff_api.py::test_a_binhu_officer_never_sees_a_liangxi_ticket",
    "staff-reservation-stats": "tests/reservations/test_admin.py::test_staff_stats_are_scoped",
    "staff-sharing-stats": "tests/reservations/test_admin.py::test_staff_stats_are_scoped",
}


def _registered() -> set[str]:
    return {model._meta.label for model in admin.site._registry}


def _staff_routes() -> set[str]:
    def walk(patterns, prefix=""):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/v1/staff/"):
                yield entry.name or route

    return set(walk(get_resolver().url_patterns))


def test_every_admin_and_staff_route_has_a_cross_region_test():
    covered = set(ELSEWHERE) | set(GENERIC) | set(NO_DISTRICT)
    assert sorted(_registered() - covered) == [], "add the admin to a registry here, with its cross-region test"
    assert sorted(covered - _registered()) == [], "an entry names an admin that is no longer registered"
    assert sorted(_staff_routes() ^ set(STAFF_API)) == []
    assert len(set(ELSEWHERE) | set(GENERIC)) + len(NO_DISTRICT) == len(covered)  # one entry each


@pytest.mark.parametrize("node", sorted(set(ELSEWHERE.values()) | set(STAFF_API.values())))
def test_each_test_named_exists(node):
    path, name = node.split("::")
    tree = ast.parse((Path(settings.BASE_DIR) / path).read_text())
    assert name in {f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}, node


def _model(label):
    from django.apps import apps

    return apps.get_model(label)


def _admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(GENERIC))
def test_a_liangxi_officer_sees_and_opens_only_liangxi_rows(label, client, city, officer):
    model = _model(label)
    if GENERIC[label] is None:  # an audit entry reaches a district through its object (here: a lot)
        from apps.audit.services import audit_record

        ours, theirs = (audit_record(action="lot.changed", actor=officer, obj=Place(city[code]).lot)
                        for code in (LX, BH))
    else:
        ours, theirs = ((lambda place: make(model, place, **GENERIC[label](place)))(Place(city[code]))
                        for code in (LX, BH))
    client.force_login(officer)
    listing = client.get(_admin_url(model, "changelist"))
    assert listing.status_code == 200
    shown = {row.pk for row in listing.context["cl"].queryset}
    assert ours.pk in shown, "the officer's own district's row is listed (else the test proves nothing)"
    assert theirs.pk not in shown
    assert client.get(_admin_url(model, "change", theirs.pk)).status_code in (302, 403, 404)
    assert client.get(_admin_url(model, "change", ours.pk)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "kind"), sorted(NO_DISTRICT.items()))
def test_what_belongs_to_no_district_is_not_a_district_officers_to_change(label, kind, client, officer):
    model = _model(label)
    client.force_login(officer)
    if kind == "superuser":
        assert client.get(_admin_url(model, "changelist")).status_code == 403
    else:
        assert client.get(_admin_url(model, "changelist")).status_code == 200
        assert client.get(_admin_url(model, "add")).status_code == 403
