"""The registry's admin: operators (经营单位) and the staff scope on the user admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.regions.models import Operator, Region, StaffScope
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LX = "320213"


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


def operator_data(city, **overrides):
    data = {"name": "梁溪停车管理有限公司", "credit_code": "91110108551385082Q", "ownership": "state_owned",
            "region": city[LX].pk, "contact_name": "", "contact_phone": "", "settlement_bank": "",
            "settlement_account_name": "", "settlement_account_no": ""}
    data.update(overrides)
    return data


def test_operator_credit_code_normalised_and_validated(logged_in, city, officer):
    response = logged_in.post(reverse("admin:regions_operator_add"),
                              operator_data(city, credit_code="9111 0108 5513 8508 2q"))
    assert response.status_code == 302, form_errors(response)
    operator = Operator.objects.get()
    assert operator.credit_code == "91110108551385082Q"
    assert operator.history.get().history_user == officer
    bad = logged_in.post(reverse("admin:regions_operator_add"),
                         operator_data(city, name="另一家", credit_code="91110108551385082A"))
    assert bad.status_code == 200
    assert "校验位" in str(form_errors(bad)["credit_code"])
    assert Operator.objects.count() == 1


def test_city_admin_sets_a_users_scope_in_user_admin(client, city):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    target = UserFactory(username="lx-new", is_staff=True)
    client.force_login(superuser)
    url = reverse("admin:auth_user_change", args=[target.pk])
    page = client.get(url)
    assert page.status_code == 200 and "staff_scope-TOTAL_FORMS" in page.text
    data = {
        "username": "lx-new", "first_name": "", "last_name": "", "email": "", "is_active": "on", "is_staff": "on",
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "08:00:00",
        "staff_scope-TOTAL_FORMS": "1", "staff_scope-INITIAL_FORMS": "0",
        "staff_scope-MIN_NUM_FORMS": "0", "staff_scope-MAX_NUM_FORMS": "1",
        "staff_scope-0-kind": "region", "staff_scope-0-region": city[LX].pk, "staff_scope-0-operator": "",
        "staff_scope-0-user": target.pk,
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    scope = StaffScope.objects.get(user=target)
    assert scope.kind == "region" and scope.region == city[LX]
    assert target.groups.filter(name="区域管理员").exists()


def test_region_officer_cannot_reach_user_admin_even_with_permission(client, officer):
    from django.contrib.auth.models import Permission

    officer.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(officer)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:auth_user_change", args=[officer.pk])).status_code == 403


def test_region_admin_is_read_mostly(client, city, staff_factory):
    client.force_login(staff_factory("city"))
    page = client.get(reverse("admin:regions_region_change", args=[city[LX].pk]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert set(form.fields) == {"name"}  # code, level and parent come from GB/T 2260
    assert client.get(reverse("admin:regions_region_delete", args=[city[LX].pk])).status_code == 403
    response = client.post(reverse("admin:regions_region_change", args=[city[LX].pk]), {"name": "梁溪区（新）"})
    assert response.status_code == 302
    assert Region.objects.get(code=LX).name == "梁溪区（新）"


def test_region_officer_sees_only_own_region_and_cannot_edit_it(logged_in, city):
    listing = logged_in.get(reverse("admin:regions_region_changelist"))
    assert [r.code for r in listing.context["cl"].result_list] == [LX]
    page = logged_in.get(reverse("admin:regions_region_change", args=[city[LX].pk]))
    assert page.context["has_change_permission"] is False


def _unchanged_form(page) -> dict:
    """What the browser sends back for a page saved without touching anything."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    return data


def test_a_city_level_operator_is_read_only_for_a_district_officer_and_an_unchanged_save_nulls_nothing(
        client, city, officer):
    """Issue 6 item 3: as 梁溪, a city-level operator (registered at 无锡市, running 梁溪 lots) could be
    changed, and saving its form unchanged set its region to NULL: the picker offered only 梁溪."""
    from tests.factories import LotFactory, OperatorFactory

    operator = OperatorFactory(region=city["320200"], settlement_account_no="6222020200112233")
    LotFactory(region=city[LX], operator=operator)
    client.force_login(officer)
    url = reverse("admin:regions_operator_change", args=[operator.pk])
    page = client.get(url)
    assert page.status_code == 200  # seen: it runs lots in 梁溪
    assert not page.context["has_change_permission"]
    assert "无锡市" in page.text and 'name="region"' not in page.text
    response = client.post(url, {**operator_data(city, name=operator.name, credit_code=operator.credit_code),
                                 "region": "", "settlement_account_no": "6222029999999999"})
    assert response.status_code == 403
    operator.refresh_from_db()
    assert operator.region == city["320200"]
    assert operator.settlement_account_no == "6222020200112233"


def test_an_operator_of_the_officers_region_is_saved_unchanged_as_it_was(client, city, officer):
    from apps.audit.models import AuditEntry
    from tests.factories import OperatorFactory

    operator = OperatorFactory(region=city[LX], settlement_account_no="6222020200112233")
    client.force_login(officer)
    url = reverse("admin:regions_operator_change", args=[operator.pk])
    page = client.get(url)
    assert page.context["has_change_permission"]
    response = client.post(url, _unchanged_form(page))
    assert response.status_code == 302, form_errors(response)
    operator.refresh_from_db()
    assert operator.region == city[LX]
    assert not AuditEntry.objects.exists()  # nothing changed, nothing to audit
    response = client.post(url, {**_unchanged_form(page), "settlement_account_no": "6222029999999999"},
                           REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Firefox/140")
    assert response.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.ip, entry.user_agent) == ("operator.changed", officer, "10.1.2.3",
                                                                        "Firefox/140")
    assert entry.changes == {"settlement_account_no": ["6222020200112233", "6222029999999999"]}


def test_a_district_officer_cannot_register_an_operator_at_city_level(client, city, officer):
    client.force_login(officer)
    response = client.post(reverse("admin:regions_operator_add"), operator_data(city, region=city["320200"].pk))
    assert response.status_code == 200 and "region" in form_errors(response)
    assert not Operator.objects.exists()
