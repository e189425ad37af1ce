"""The lot form and the inventory import offer the same regions, operators and tariffs (one function).

The incident: a 滨湖 operator's credit code on a 梁溪 row was accepted by the import, which then
put that operator (and its settlement account) in 梁溪's reach; the lot form never offered it.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.lots import inventory
from apps.lots.admin_import import ImportForm
from apps.lots.choices import lot_choices
from apps.lots.models import ParkingLot
from tests.factories import LotFactory, OperatorFactory, TariffFactory
from tests.lots.test_import import csv_bytes, report_errors, upload

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"
HEADERS = ["编码", "名称", "纬度", "经度", "总泊位", "经营单位统一社会信用代码", "收费标准标识", "区域代码"]


def row(code, operator="", tariff="", region=""):
    return [code, f"停车场{code}", "31.5623", "120.3089", "100", operator, tariff, region]


def lot_form_field(client, name, lot=None):
    url = reverse("admin:lots_parkinglot_change", args=[lot.pk]) if lot else reverse("admin:lots_parkinglot_add")
    page = client.get(url)
    assert page.status_code == 200
    return page.context["adminform"].form.fields[name]


@pytest.fixture
def operators(city):
    return {
        "lx": OperatorFactory(region=city[LX], name="梁溪注册"),
        "bh": OperatorFactory(region=city[BH], name="滨湖注册"),
        "bh_in_lx": OperatorFactory(region=city[BH], name="滨湖注册、在梁溪经营"),
        "city": OperatorFactory(region=None, name="市级注册"),
    }


@pytest.fixture
def tariffs(city):
    return {
        "lx": TariffFactory(region=city[LX], key="lx-t"),
        "bh": TariffFactory(region=city[BH], key="bh-t"),
        "shared": TariffFactory(region=None, key="city-t"),
    }


def test_a_binhu_operator_on_a_liangxi_row_is_refused(logged_in, city, operators):
    response = upload(logged_in, csv_bytes([row("LX-7001", operators["bh"].credit_code)], HEADERS), "x.csv",
                      city[LX])
    assert "pending" not in response.context
    ((number, column, message),) = report_errors(response)
    assert (number, column) == (2, "经营单位统一社会信用代码") and operators["bh"].credit_code in message
    assert not ParkingLot.objects.exists()
    # ...as the lot form refuses the same choice.
    form_post = logged_in.post(reverse("admin:lots_parkinglot_add"), {
        "code": "LX-7001", "name": "x", "region": city[LX].pk, "operator": operators["bh"].pk, "kind": "off_street",
        "category": "public", "position_lat": "31.5623", "position_lon": "120.3089", "coords_entered_as": "wgs84",
        "total_berths": "10", "ev_berths": "0", "accessible_berths": "0", "reservable_berths": "0",
        "opening_hours": "00:00-24:00", "filing_status": "unfiled", "compliance_level": "none", "status": "open"})
    assert "operator" in form_post.context["adminform"].form.errors
    assert not ParkingLot.objects.exists()


def test_the_import_accepts_exactly_the_operators_the_lot_form_offers(logged_in, city, operators):
    LotFactory(code="LX-0009", region=city[LX], operator=operators["bh_in_lx"])
    offered = set(lot_form_field(logged_in, "operator").queryset)
    rows = [row(f"LX-71{i:02d}", op.credit_code) for i, op in enumerate(operators.values())]
    response = upload(logged_in, csv_bytes(rows, HEADERS), "x.csv", city[LX])
    refused = {r for r, _c, _m in report_errors(response)}
    accepted = {op for i, op in enumerate(operators.values()) if i + 2 not in refused}
    assert accepted == offered == {operators["lx"], operators["bh_in_lx"]}


def test_the_import_accepts_exactly_the_tariffs_the_lot_form_offers(logged_in, city, tariffs):
    offered = set(lot_form_field(logged_in, "tariff").queryset)
    rows = [row(f"LX-72{i:02d}", tariff=t.key) for i, t in enumerate(tariffs.values())]
    response = upload(logged_in, csv_bytes(rows, HEADERS), "x.csv", city[LX])
    refused = {r for r, _c, _m in report_errors(response)}
    accepted = {t for i, t in enumerate(tariffs.values()) if i + 2 not in refused}
    assert accepted == offered == {tariffs["lx"], tariffs["shared"]}


def test_the_import_offers_the_regions_the_lot_form_offers(logged_in, city, officer):
    offered = set(lot_form_field(logged_in, "region").queryset)
    assert set(ImportForm(user=officer).fields["region"].queryset) == offered
    assert offered == set(lot_choices("region", officer)) and city[BH] not in offered
    rows = [row("LX-7301", region=BH), row("LX-7302", region=LX)]
    response = upload(logged_in, csv_bytes(rows, HEADERS), "x.csv", city[LX])
    assert [(r, c) for r, c, _m in report_errors(response)] == [(2, "区域代码")]


def test_an_operators_officer_is_offered_only_their_own(client, city, staff_factory, operators):
    own = operators["lx"]
    lot = LotFactory(code="LX-0010", region=city[LX], operator=own)
    member = staff_factory("operator", own)
    client.force_login(member)
    assert set(lot_form_field(client, "operator", lot).queryset) == {own} == set(lot_choices("operator", member))


def test_city_staff_are_offered_everything(city, staff_factory, operators, tariffs):
    chief = staff_factory("city")
    assert set(lot_choices("operator", chief)) == set(operators.values())
    assert set(lot_choices("tariff", chief)) == set(tariffs.values())
    plan = inventory.plan_import(
        inventory.read_inventory(csv_bytes([row("BH-7001", operators["bh"].credit_code, "bh-t", BH)], HEADERS)),
        region=city["320200"], actor=chief)
    assert plan.ok and plan.lots[0].lot.operator == operators["bh"]
