"""Staff scope, end to end: the queryset rule and every way the admin could leak a row.

A 梁溪 (320213) officer must never see 滨湖 (320211) lots — not in the changelist, search,
autocomplete, a change or history page reached by guessing the id, nor an action or export.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.berths.models import Berth
from apps.lots.models import Device, FreeWindow, LotOutage, ParkingLot, Tariff
from apps.regions.models import Operator, Region
from tests.factories import LotFactory, OperatorFactory, TariffFactory, UserFactory

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"


@pytest.fixture
def lots(city):
    lx = LotFactory(code="LX-0001", name="崇安寺停车场", region=city[LX])
    bh = LotFactory(code="BH-0001", name="蠡湖停车场", region=city[BH], address="无锡市滨湖区湖滨路")
    return {"lx": lx, "bh": bh}


@pytest.fixture
def lx_officer(staff_factory):
    return staff_factory("region", LX)


def _client(client, user):
    client.force_login(user)
    return client


# -- the queryset rule ---------------------------------------------------------------------------
def test_region_officer_sees_only_own_region(lots, lx_officer):
    assert list(ParkingLot.objects.for_user(lx_officer)) == [lots["lx"]]


def test_operator_staff_see_only_their_lots(lots, staff_factory, city):
    operator = lots["bh"].operator
    other_of_same_operator = LotFactory(code="LX-0002", region=city[LX], operator=operator)
    user = staff_factory("operator", operator)
    assert set(ParkingLot.objects.for_user(user)) == {lots["bh"], other_of_same_operator}


def test_city_admin_and_superuser_see_all(lots, staff_factory):
    city_admin = staff_factory("city")
    superuser = UserFactory(is_staff=True, is_superuser=True)
    assert ParkingLot.objects.for_user(city_admin).count() == 2
    assert ParkingLot.objects.for_user(superuser).count() == 2


def test_staff_without_scope_and_inactive_users_see_nothing(lots, staff_factory):
    assert not ParkingLot.objects.for_user(UserFactory(is_staff=True)).exists()
    inactive = staff_factory("city", is_active=False)
    assert not ParkingLot.objects.for_user(inactive).exists()


def test_non_staff_user_with_a_scope_sees_nothing(lots, staff_factory):
    user = staff_factory("region", LX)
    user.is_staff = False
    user.save()
    user = type(user).objects.get(pk=user.pk)  # the scope is cached on the object
    assert not ParkingLot.objects.for_user(user).exists()


def test_device_scope_through_many_lots_has_no_duplicates(lots, city, lx_officer):
    lx2 = LotFactory(code="LX-0003", region=city[LX])
    device = Device.objects.create(name="d", access_key="AK1", secret_encrypted="x", secret_fingerprint="f")
    device.lots.set([lots["lx"], lx2, lots["bh"]])
    bh_only = Device.objects.create(name="e", access_key="AK2", secret_encrypted="x", secret_fingerprint="f")
    bh_only.lots.set([lots["bh"]])
    seen = list(Device.objects.for_user(lx_officer))
    assert seen == [device]
    assert Device.objects.for_user(lx_officer).count() == 1


def test_related_rows_follow_their_lot(lots, lx_officer, city):
    Berth.objects.create(lot=lots["lx"], code="A1")
    Berth.objects.create(lot=lots["bh"], code="B1")
    LotOutage.objects.create(lot=lots["bh"], started_at="2026-01-01T00:00+08:00")
    assert [b.code for b in Berth.objects.for_user(lx_officer)] == ["A1"]
    assert not LotOutage.objects.for_user(lx_officer).exists()


def test_shared_tariffs_seen_by_all_region_tariffs_only_by_region(city, lx_officer):
    shared = TariffFactory(region=None)
    own = TariffFactory(region=city[LX])
    other = TariffFactory(region=city[BH])
    assert set(Tariff.objects.for_user(lx_officer)) == {shared, own}
    assert other not in Tariff.objects.for_user(lx_officer)
    assert not Tariff.objects.for_user(UserFactory(is_staff=True)).exists()


def test_city_region_officer_covers_the_regions_below(city, lots, staff_factory):
    wuxi_officer = staff_factory("region", "320200")
    assert ParkingLot.objects.for_user(wuxi_officer).count() == 2


# -- the admin -----------------------------------------------------------------------------------
def test_changelist_lists_only_own_region(client, lots, lx_officer):
    response = _client(client, lx_officer).get(reverse("admin:lots_parkinglot_changelist"))
    assert response.status_code == 200
    assert "LX-0001" in response.text
    assert "BH-0001" not in response.text and "蠡湖" not in response.text


def test_changelist_search_never_reaches_other_region(client, lots, lx_officer):
    url = reverse("admin:lots_parkinglot_changelist")
    c = _client(client, lx_officer)
    for term in ("BH-0001", "蠡湖", "湖滨路", lots["bh"].operator.name):
        response = c.get(url, {"q": term})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [], term
    # the same searches find the lot for the city admin, so the terms do match


def test_city_admin_search_finds_the_lot(client, lots, staff_factory):
    c = _client(client, staff_factory("city"))
    for term in ("BH-0001", "蠡湖", "湖滨路", lots["bh"].operator.name):
        response = c.get(reverse("admin:lots_parkinglot_changelist"), {"q": term})
        assert list(response.context["cl"].result_list) == [lots["bh"]], term


def _region_choices(response) -> list[str]:
    # RelatedOnlyFieldListFilter hides itself when there is a single choice.
    for spec in response.context["cl"].filter_specs:
        if getattr(spec, "field_path", "") == "region":
            return [label for _pk, label in spec.lookup_choices]
    return []


def test_region_filter_offers_only_regions_in_scope(client, lots, lx_officer, staff_factory):
    url = reverse("admin:lots_parkinglot_changelist")
    assert str(lots["bh"].region) not in _region_choices(_client(client, lx_officer).get(url))
    city_choices = _region_choices(_client(client, staff_factory("city")).get(url))
    assert set(city_choices) == {str(lots["lx"].region), str(lots["bh"].region)}


@pytest.mark.parametrize("app_label,model_name,field_name", [
    ("berths", "berth", "lot"),  # foreign key
    ("lots", "device", "lots"),  # many-to-many
    ("lots", "freewindow", "lot"),
])
def test_autocomplete_is_scoped(client, lots, lx_officer, app_label, model_name, field_name):
    c = _client(client, lx_officer)
    params = {"app_label": app_label, "model_name": model_name, "field_name": field_name}
    everything = c.get("/admin/autocomplete/", {**params, "term": ""}).json()["results"]
    assert [r["id"] for r in everything] == [str(lots["lx"].pk)]
    searched = c.get("/admin/autocomplete/", {**params, "term": "BH"}).json()["results"]
    assert searched == []


def test_autocomplete_for_regions_and_operators_is_scoped(client, lots, lx_officer, city):
    c = _client(client, lx_officer)
    regions = c.get("/admin/autocomplete/", {"app_label": "lots", "model_name": "parkinglot",
                                             "field_name": "region", "term": ""}).json()["results"]
    assert [r["id"] for r in regions] == [str(city[LX].pk)]
    operators = c.get("/admin/autocomplete/", {"app_label": "lots", "model_name": "parkinglot",
                                               "field_name": "operator", "term": ""}).json()["results"]
    assert [r["id"] for r in operators] == [str(lots["lx"].operator.pk)]


def test_change_page_by_guessed_id_is_not_found(client, lots, lx_officer):
    c = _client(client, lx_officer)
    own = c.get(reverse("admin:lots_parkinglot_change", args=[lots["lx"].pk]))
    assert own.status_code == 200
    other = c.get(reverse("admin:lots_parkinglot_change", args=[lots["bh"].pk]))
    # Django's admin answers a missing object with a redirect to the index and "doesn't exist".
    assert other.status_code == 302 and other.url == reverse("admin:index")
    assert "蠡湖" not in c.get(other.url).text


def test_post_to_other_regions_lot_changes_nothing(client, lots, lx_officer):
    url = reverse("admin:lots_parkinglot_change", args=[lots["bh"].pk])
    response = _client(client, lx_officer).post(url, {"name": "被篡改"})
    assert response.status_code == 302
    lots["bh"].refresh_from_db()
    assert lots["bh"].name == "蠡湖停车场"


def test_delete_and_history_pages_of_other_region_refused(client, lots, lx_officer):
    c = _client(client, lx_officer)
    delete = c.get(reverse("admin:lots_parkinglot_delete", args=[lots["bh"].pk]))
    assert delete.status_code in (302, 403) and "蠡湖" not in delete.text
    history = c.get(reverse("admin:lots_parkinglot_history", args=[lots["bh"].pk]))
    assert history.status_code == 403
    assert c.get(reverse("admin:lots_parkinglot_history", args=[lots["lx"].pk])).status_code == 200


def test_actions_only_touch_scoped_rows(client, lots, lx_officer):
    c = _client(client, lx_officer)
    response = c.post(reverse("admin:lots_parkinglot_changelist"), {
        "action": "mark_closed", "_selected_action": [lots["lx"].pk, lots["bh"].pk],
    })
    assert response.status_code == 302
    lots["lx"].refresh_from_db()
    lots["bh"].refresh_from_db()
    assert lots["lx"].status == ParkingLot.Status.CLOSED
    assert lots["bh"].status == ParkingLot.Status.OPEN


def test_export_contains_only_scoped_rows(client, lots, lx_officer):
    response = _client(client, lx_officer).post(reverse("admin:lots_parkinglot_changelist"), {
        "action": "export_csv", "_selected_action": [lots["lx"].pk, lots["bh"].pk],
    })
    assert response.status_code == 200
    body = response.content.decode("utf-8-sig")
    assert "LX-0001" in body and "BH-0001" not in body
    assert body.splitlines()[0].startswith("编码,名称")


def test_export_action_called_with_foreign_rows_still_scoped(rf, lots, lx_officer):
    from django.contrib import admin as django_admin

    model_admin = django_admin.site.get_model_admin(ParkingLot)
    request = rf.post("/")
    request.user = lx_officer
    export = model_admin.get_actions(request)["export_csv"][0]
    response = export(model_admin, request, ParkingLot.objects.all())
    assert "BH-0001" not in response.content.decode("utf-8-sig")


def test_foreign_key_choices_are_scoped(client, lots, lx_officer, city):
    response = _client(client, lx_officer).get(reverse("admin:lots_freewindow_add"))
    form = response.context["adminform"].form
    assert list(form.fields["region"].queryset) == [city[LX]]
    assert list(form.fields["lot"].queryset) == [lots["lx"]]


def test_guessed_foreign_key_in_post_is_refused(client, lots, lx_officer, city):
    c = _client(client, lx_officer)
    response = c.post(reverse("admin:lots_freewindow_add"), {
        "name": "偷偷免费", "starts_at_0": "2026-02-01", "starts_at_1": "00:00",
        "ends_at_0": "2026-02-02", "ends_at_1": "00:00", "lot": lots["bh"].pk,
    })
    assert response.status_code == 200
    assert "lot" in response.context["adminform"].form.errors
    assert not FreeWindow.objects.exists()


def test_city_wide_free_window_refused_for_region_officer(client, lx_officer, city):
    response = _client(client, lx_officer).post(reverse("admin:lots_freewindow_add"), {
        "name": "全市免费", "starts_at_0": "2026-02-01", "starts_at_1": "00:00",
        "ends_at_0": "2026-02-02", "ends_at_1": "00:00",
    })
    assert response.status_code == 200
    assert "region" in response.context["adminform"].form.errors
    assert not FreeWindow.objects.exists()


def test_region_officer_free_window_in_own_region_saved_with_history(client, lx_officer, city):
    response = _client(client, lx_officer).post(reverse("admin:lots_freewindow_add"), {
        "name": "春节免费", "starts_at_0": "2026-02-01", "starts_at_1": "00:00",
        "ends_at_0": "2026-02-02", "ends_at_1": "00:00", "region": city[LX].pk,
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    window = FreeWindow.objects.get()
    assert window.history.get().history_user == lx_officer


def test_shared_tariff_is_read_only_for_region_officer(client, city, lx_officer):
    shared = TariffFactory(region=None, name="全市通用")
    c = _client(client, lx_officer)
    page = c.get(reverse("admin:lots_tariff_change", args=[shared.pk]))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    c.post(reverse("admin:lots_tariff_change", args=[shared.pk]), {"name": "改名", "rules": "{}"})
    shared.refresh_from_db()
    assert shared.name == "全市通用"


def test_operator_staff_see_their_lots_in_admin(client, lots, staff_factory):
    user = staff_factory("operator", lots["bh"].operator)
    response = _client(client, user).get(reverse("admin:lots_parkinglot_changelist"))
    assert "BH-0001" in response.text and "LX-0001" not in response.text


def test_staff_without_scope_see_an_empty_changelist(client, lots):
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_parkinglot"))
    response = _client(client, user).get(reverse("admin:lots_parkinglot_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_city_admin_sees_all_in_admin(client, lots, staff_factory):
    response = _client(client, staff_factory("city")).get(reverse("admin:lots_parkinglot_changelist"))
    assert response.context["cl"].result_count == 2


def test_other_scoped_admins_hide_other_region(client, lots, lx_officer, city):
    Berth.objects.create(lot=lots["bh"], code="B-SECRET")
    LotOutage.objects.create(lot=lots["bh"], started_at="2026-01-01T00:00+08:00")
    TariffFactory(region=city[BH], name="滨湖专用")
    bh_operator = OperatorFactory(name="滨湖停车公司", region=city[BH])
    c = _client(client, lx_officer)
    assert "B-SECRET" not in c.get(reverse("admin:berths_berth_changelist")).text
    assert c.get(reverse("admin:lots_lotoutage_changelist")).context["cl"].result_count == 0
    assert "滨湖专用" not in c.get(reverse("admin:lots_tariff_changelist")).text
    assert bh_operator.name not in c.get(reverse("admin:regions_operator_changelist")).text
    assert c.get(reverse("admin:regions_operator_change", args=[bh_operator.pk])).status_code == 302
    assert Operator.objects.for_user(lx_officer).filter(pk=bh_operator.pk).count() == 0
    assert Region.objects.for_user(lx_officer).get() == city[LX]


def test_mixin_on_an_inline_scopes_rows_and_judges_the_parent(rf, lots, lx_officer):
    from django.contrib import admin as django_admin

    from apps.common.admin import ScopedAdminMixin

    class BerthInline(ScopedAdminMixin, django_admin.TabularInline):
        model = Berth

    Berth.objects.create(lot=lots["lx"], code="A1")
    Berth.objects.create(lot=lots["bh"], code="B1")
    inline = BerthInline(ParkingLot, django_admin.site)
    request = rf.get("/")
    request.user = lx_officer
    assert [b.code for b in inline.get_queryset(request)] == ["A1"]
    # the object handed to an inline's permission checks is the parent lot, not a berth
    assert inline.has_view_permission(request, lots["lx"])
    assert inline.has_change_permission(request, lots["lx"])


def test_values_in_scope_follows_paths_on_unsaved_objects(rf, lots, lx_officer, city):
    from django.contrib import admin as django_admin

    request = rf.get("/")
    request.user = lx_officer
    berth_admin = django_admin.site.get_model_admin(Berth)
    assert berth_admin.values_in_scope(request, Berth(lot=lots["lx"], code="N1"))
    assert not berth_admin.values_in_scope(request, Berth(lot=lots["bh"], code="N2"))
    window_admin = django_admin.site.get_model_admin(FreeWindow)
    assert window_admin.values_in_scope(request, FreeWindow(name="w", lot=lots["lx"]))
    assert window_admin.values_in_scope(request, FreeWindow(name="w", region=city[LX]))
    assert not window_admin.values_in_scope(request, FreeWindow(name="w"))
    device_admin = django_admin.site.get_model_admin(Device)
    assert device_admin.values_in_scope(request, Device(name="d"))  # m2m only: the service decides


ADMIN_PAGES = [
    "admin:index", "admin:lots_parkinglot_changelist", "admin:lots_parkinglot_add", "admin:lots_parkinglot_import",
    "admin:lots_tariff_changelist", "admin:lots_tariff_add", "admin:lots_device_changelist", "admin:lots_device_add",
    "admin:lots_lotoutage_changelist", "admin:lots_freewindow_changelist", "admin:lots_freewindow_add",
    "admin:berths_berth_changelist", "admin:berths_berth_add", "admin:regions_region_changelist",
    "admin:regions_operator_changelist", "admin:regions_operator_add", "admin:auth_user_changelist",
]


@pytest.mark.parametrize("kind", ["city", "region", "operator", "none"])
def test_every_admin_page_answers_each_kind_of_staff(client, lots, staff_factory, kind):
    """No page errors for anyone: it renders (200) or is refused (403), never a 500 or a leak."""
    from django.contrib.auth.models import Permission

    if kind == "none":
        user = UserFactory(is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=["lots", "berths"]))
    else:
        user = staff_factory(kind, *{"city": (), "region": (LX,), "operator": (lots["lx"].operator,)}[kind])
    c = _client(client, user)
    for name in ADMIN_PAGES:
        response = c.get(reverse(name))
        assert response.status_code in (200, 403), (name, response.status_code)
        if kind != "city":
            assert "BH-0001" not in response.text and "蠡湖" not in response.text, name
    for name in ("admin:lots_parkinglot_change", "admin:lots_parkinglot_history"):
        response = c.get(reverse(name, args=[lots["lx"].pk]))
        assert response.status_code == (200 if kind != "none" else 302 if "change" in name else 403), name
