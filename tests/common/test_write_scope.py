"""The one write rule (apps.common.scope.may_change / writable_by) and every staff write path
against it: a 梁溪 (320213) officer against a 滨湖 (320211) object and a city-level (无锡市) one.

Read may be wider than write: the officer sees the city-level operator running 梁溪's lots and the
tariff shared city-wide, but changes neither.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.berths.models import Berth
from apps.berths.services import berth_delete, berth_save
from apps.common.errors import DomainError
from apps.common.scope import may_change
from apps.lots.models import Device, FreeWindow, ParkingLot, Tariff
from apps.lots.services import (
    device_change,
    device_revoke,
    device_rotate_secret,
    free_window_delete,
    free_window_save,
    lot_save,
    tariff_save,
)
from apps.regions.models import Operator, Region
from apps.regions.services import operator_save, region_rename
from tests.factories import DeviceFactory, LotFactory, OperatorFactory, TariffFactory

pytestmark = pytest.mark.django_db

LX, BH, WUXI = "320213", "320211", "320200"


@pytest.fixture
def world(city):
    """Per owner (lx, bh, wuxi): a lot, its operator, a tariff, a berth, a free window, a device."""
    made = {}
    for key, code in (("lx", LX), ("bh", BH), ("wuxi", WUXI)):
        operator = OperatorFactory(region=city[code], name=f"{key}运营公司")
        tariff = TariffFactory(region=None if key == "wuxi" else city[code], name=f"{key}收费")
        lot = LotFactory(code=f"{key.upper()}-0001", name=f"{key}停车场", region=city[code], operator=operator,
                         tariff=tariff)
        made[key] = {
            "operator": operator, "tariff": tariff, "lot": lot, "region": city[code],
            "berth": Berth.objects.create(lot=lot, code="A1"),
            "window": FreeWindow.objects.create(name=f"{key}节日", starts_at="2026-10-01T00:00+08:00",
                                                ends_at="2026-10-02T00:00+08:00",
                                                region=None if key == "wuxi" else city[code]),
            "device": DeviceFactory.issue(lots=[lot], name=f"{key}设备")[0],
        }
    # the city-level operator runs a 梁溪 lot too: 梁溪 sees it, and must not change it
    made["lx_lot_of_city_operator"] = LotFactory(code="LX-0002", region=city[LX], operator=made["wuxi"]["operator"],
                                                 tariff=None)
    made["shared_device"] = DeviceFactory.issue(lots=[made["lx"]["lot"], made["bh"]["lot"]], name="共用设备")[0]
    return made


# -- the rule ------------------------------------------------------------------------------------
def test_read_may_be_wider_than_write(world, officer):
    city_operator = world["wuxi"]["operator"]
    assert Operator.objects.for_user(officer).filter(pk=city_operator.pk).exists()
    assert not may_change(officer, city_operator)
    assert not Operator.objects.writable_by(officer).filter(pk=city_operator.pk).exists()
    assert may_change(officer, world["lx"]["operator"])
    shared_tariff = world["wuxi"]["tariff"]
    assert Tariff.objects.for_user(officer).filter(pk=shared_tariff.pk).exists()
    assert not may_change(officer, shared_tariff)
    assert Device.objects.for_user(officer).filter(pk=world["shared_device"].pk).exists()
    assert not may_change(officer, world["shared_device"])
    assert may_change(officer, world["lx"]["device"])


@pytest.mark.parametrize("model, key", [
    (ParkingLot, "lot"), (Operator, "operator"), (Tariff, "tariff"), (Berth, "berth"), (FreeWindow, "window"),
    (Device, "device"),
])
def test_writable_by_and_may_change_agree(world, officer, staff_factory, model, key):
    expected = {world["lx"][key].pk} | ({world["lx_lot_of_city_operator"].pk} if key == "lot" else set())
    assert set(model.objects.writable_by(officer).values_list("pk", flat=True)) == expected
    for owner in ("lx", "bh", "wuxi"):
        assert may_change(officer, world[owner][key]) is (owner == "lx"), owner
    city_admin = staff_factory("city")
    assert all(may_change(city_admin, world[owner][key]) for owner in ("lx", "bh", "wuxi"))
    assert model.objects.writable_by(city_admin).count() == model.objects.count()


def test_moving_an_own_object_out_of_scope_is_not_a_write_the_officer_may_make(world, officer, city):
    lot = ParkingLot.objects.get(pk=world["lx"]["lot"].pk)
    lot.region = city[BH]
    assert not may_change(officer, lot)
    operator = Operator.objects.get(pk=world["lx"]["operator"].pk)
    operator.region = city[WUXI]
    assert not may_change(officer, operator)


def test_operator_staff_change_their_own_lots_and_operator_only(world, staff_factory):
    user = staff_factory("operator", world["lx"]["operator"])
    assert may_change(user, world["lx"]["lot"]) and may_change(user, world["lx"]["operator"])
    assert not may_change(user, world["bh"]["lot"]) and not may_change(user, world["wuxi"]["operator"])
    assert not may_change(user, world["lx"]["tariff"])


# -- every service ---------------------------------------------------------------------------------
def _service_writes(world, owner):
    """Each staff-facing service, aimed at ``owner``'s objects."""
    o = world[owner]
    return {
        "lot_save": lambda actor: lot_save(lot=ParkingLot.objects.get(pk=o["lot"].pk), actor=actor),
        "tariff_save": lambda actor: tariff_save(tariff=Tariff.objects.get(pk=o["tariff"].pk), actor=actor),
        "operator_save": lambda actor: operator_save(operator=Operator.objects.get(pk=o["operator"].pk),
                                                     actor=actor),
        "region_rename": lambda actor: region_rename(region=o["region"], name="改名区", actor=actor),
        "device_change": lambda actor: device_change(device=o["device"], name="改名", kind="lot_system",
                                                     lots=[o["lot"]], actor=actor),
        "device_rotate_secret": lambda actor: device_rotate_secret(device=o["device"], actor=actor),
        "device_revoke": lambda actor: device_revoke(device=o["device"], actor=actor),
        "berth_save": lambda actor: berth_save(berth=Berth.objects.get(pk=o["berth"].pk), actor=actor),
        "berth_delete": lambda actor: berth_delete(berth=o["berth"], actor=actor),
        "free_window_save": lambda actor: free_window_save(window=FreeWindow.objects.get(pk=o["window"].pk),
                                                           actor=actor),
        "free_window_delete": lambda actor: free_window_delete(window=o["window"], actor=actor),
    }


SERVICES = list(_service_writes({"x": dict.fromkeys(("lot", "tariff", "operator", "region", "device", "berth",
                                                    "window"))}, "x"))


@pytest.mark.parametrize("owner", ["bh", "wuxi"])
@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_a_district_officer_another_owners_object(world, officer, owner, service):
    with pytest.raises(DomainError) as refused:
        _service_writes(world, owner)[service](officer)
    assert refused.value.code == "out_of_scope" and refused.value.status == 403
    assert Region.objects.get(pk=world[owner]["region"].pk).name != "改名区"
    assert Berth.objects.filter(pk=world[owner]["berth"].pk).exists()
    assert FreeWindow.objects.filter(pk=world[owner]["window"].pk).exists()
    assert Device.objects.get(pk=world[owner]["device"].pk).revoked_at is None


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "region_rename"])
def test_every_service_lets_the_officer_change_their_own(world, officer, service):
    _service_writes(world, "lx")[service](officer)


# -- every admin write path ------------------------------------------------------------------------
ADMIN_OBJECTS = [
    ("lots", "parkinglot", "lot"), ("lots", "tariff", "tariff"), ("lots", "device", "device"),
    ("lots", "freewindow", "window"), ("regions", "operator", "operator"), ("berths", "berth", "berth"),
    ("regions", "region", "region"),
]


@pytest.mark.parametrize("owner", ["bh", "wuxi"])
@pytest.mark.parametrize("app_label, model_name, key", ADMIN_OBJECTS)
def test_admin_change_and_delete_of_another_owners_object_refused(logged_in, world, owner, app_label, model_name,
                                                                  key):
    obj = world[owner][key]
    model = type(obj)
    before = model.objects.filter(pk=obj.pk).values().get()
    change = reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk])
    delete = reverse(f"admin:{app_label}_{model_name}_delete", args=[obj.pk])
    page = logged_in.get(change)
    if page.status_code == 200:  # seen (a city-level operator, a shared tariff): read-only
        assert not page.context["has_change_permission"]
        assert not page.context["adminform"].form.fields or "_save" not in page.text
    else:
        assert page.status_code in (302, 403)
    logged_in.post(change, {"name": "改名"})
    assert logged_in.get(delete).status_code in (302, 403)
    logged_in.post(delete, {"post": "yes"})
    assert model.objects.filter(pk=obj.pk).values().get() == before


@pytest.mark.parametrize("owner", ["bh", "wuxi"])
@pytest.mark.parametrize("app_label, model_name, key, action", [
    ("lots", "parkinglot", "lot", "mark_closed"), ("lots", "device", "device", "revoke"),
    ("lots", "device", "device", "rotate_secret"), ("lots", "freewindow", "window", "delete_selected"),
    ("berths", "berth", "berth", "delete_selected"),
])
def test_admin_actions_on_another_owners_rows_change_nothing(logged_in, world, owner, app_label, model_name, key,
                                                             action):
    obj = world[owner][key]
    before = type(obj).objects.filter(pk=obj.pk).values().get()
    response = logged_in.post(reverse(f"admin:{app_label}_{model_name}_changelist"),
                              {"action": action, "_selected_action": [obj.pk], "post": "yes"})
    assert response.status_code in (200, 302)
    assert type(obj).objects.filter(pk=obj.pk).values().get() == before


def test_admin_actions_on_a_shared_device_change_nothing(logged_in, world):
    device = world["shared_device"]
    before = Device.objects.filter(pk=device.pk).values().get()
    for action in ("revoke", "rotate_secret"):
        logged_in.post(reverse("admin:lots_device_changelist"), {"action": action, "_selected_action": [device.pk]})
    assert Device.objects.filter(pk=device.pk).values().get() == before


@pytest.mark.parametrize("app_label, model_name, data", [
    ("lots", "tariff", {"name": "滨湖新标准", "key": "", "source": "", "rules": "{}"}),
    ("lots", "freewindow", {"name": "滨湖节日", "starts_at_0": "2026-10-01", "starts_at_1": "00:00:00",
                            "ends_at_0": "2026-10-02", "ends_at_1": "00:00:00"}),
    ("regions", "operator", {"name": "滨湖新公司", "credit_code": "91110108551385082Q", "ownership": "private"}),
    ("berths", "berth", {"code": "Z9", "kind": "standard", "floor": "", "sensor_id": "", "state": "unknown"}),
])
def test_admin_add_for_another_owner_refused(logged_in, world, app_label, model_name, data):
    model = {"tariff": Tariff, "freewindow": FreeWindow, "operator": Operator, "berth": Berth}[model_name]
    count = model.objects.count()
    targets = {"region": world["bh"]["region"].pk, "lot": world["bh"]["lot"].pk}
    for target in ({"region": targets["region"]}, {"lot": targets["lot"]}, {}):
        response = logged_in.post(reverse(f"admin:{app_label}_{model_name}_add"), {**data, **target})
        assert response.status_code == 200  # the form again, with an error
    assert model.objects.count() == count


# -- the staff API ---------------------------------------------------------------------------------
def test_a_staff_api_write_follows_the_same_rule(world, officer):
    """A write endpoint built on the staff mixin refuses an object the officer sees but may not
    change (the city-level operator), and allows one of their own."""
    from rest_framework import generics, serializers
    from rest_framework.test import APIRequestFactory, force_authenticate

    from apps.common.api.scope import StaffScopedMixin

    class OperatorNameSerializer(serializers.ModelSerializer):
        class Meta:
            model = Operator
            fields = ["name"]

    class OperatorView(StaffScopedMixin, generics.RetrieveUpdateAPIView):
        queryset = Operator.objects.all()
        serializer_class = OperatorNameSerializer

    def call(method, operator):
        request = getattr(APIRequestFactory(), method)("/x", {"name": "改名"}, format="json")
        force_authenticate(request, user=officer)
        return OperatorView.as_view()(request, pk=operator.pk)

    city_operator, own = world["wuxi"]["operator"], world["lx"]["operator"]
    assert call("get", city_operator).status_code == 200  # seen
    assert call("patch", city_operator).status_code == 403  # not changed
    assert Operator.objects.get(pk=city_operator.pk).name != "改名"
    assert call("patch", world["bh"]["operator"]).status_code == 404  # not even seen
    assert call("patch", own).status_code == 200
    assert Operator.objects.get(pk=own.pk).name == "改名"
