"""One check of a tariff's rules (SPEC §6 rule 8 → ``invalid_tariff``), the same on every path."""

from __future__ import annotations

import copy
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.lots import fees
from apps.lots.errors import InvalidTariff
from apps.lots.models import Tariff
from apps.lots.services import tariff_save
from apps.lots.tariff_rules import tariff_rules_check
from tests.factories import CORE_ARTERIAL_RULES, LotFactory, TariffFactory

pytestmark = pytest.mark.django_db

LX = "320213"


def overlapping_rules():
    rules = copy.deepcopy(CORE_ARTERIAL_RULES)
    rules["small"]["bands"][1]["start"] = "08:00"  # into 07:00–09:00
    return rules


def zero_unit_rules():
    rules = copy.deepcopy(CORE_ARTERIAL_RULES)
    rules["small"]["bands"][0]["ladder"][0]["unit_minutes"] = 0
    return rules


def missing_same_as_rules():
    rules = copy.deepcopy(CORE_ARTERIAL_RULES)
    rules["large"]["same_as"] = "bus"
    return rules


BAD = [overlapping_rules, zero_unit_rules, missing_same_as_rules]


def engine_says(rules) -> fees.TariffError:
    with pytest.raises(fees.TariffError) as excinfo:
        fees.validate_rules(rules)
    return excinfo.value


def expected_message(rules) -> str:
    return f"计费规则有误：{engine_says(rules)}"


# -- each path -----------------------------------------------------------------------------------
def via_service(city, rules) -> tuple[str, str]:
    with pytest.raises(InvalidTariff) as excinfo:
        tariff_save(tariff=Tariff(name="坏", region=city[LX], rules=rules))
    return excinfo.value.code, excinfo.value.message


def via_model_clean(city, rules) -> tuple[str, str]:
    with pytest.raises(ValidationError) as excinfo:
        Tariff(name="坏", region=city[LX], rules=rules).full_clean()
    (error,) = excinfo.value.error_dict["rules"]
    return error.code, error.message


def via_orm_save(city, rules) -> tuple[str, str]:
    with pytest.raises(InvalidTariff) as excinfo:
        Tariff.objects.create(name="坏", region=city[LX], rules=rules)
    return excinfo.value.code, excinfo.value.message


def via_admin(city, rules, client) -> tuple[str, str]:
    data = {"name": "坏", "key": "bad", "region": city[LX].pk, "source": "测试", "rules": json.dumps(rules)}
    response = client.post(reverse("admin:lots_tariff_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()
    (error,) = errors["rules"]
    return error.code, error.messages[0]


def via_quote(city, rules, api_client) -> tuple[str, str]:
    # A tariff stored past every check (a bulk update): the quote refuses it in the same words.
    tariff = TariffFactory(region=city[LX])
    Tariff.objects.filter(pk=tariff.pk).update(rules=rules)
    LotFactory(code="Q-1", region=city[LX], tariff=tariff)
    response = api_client.get("/api/v1/fees/quote", {"lot": "Q-1", "entry": "2026-03-17T10:00:00+08:00",
                                                     "exit": "2026-03-17T11:00:00+08:00"})
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    return error["code"], error["message"]


@pytest.mark.parametrize("bad", BAD, ids=lambda f: f.__name__)
def test_every_path_refuses_an_invalid_tariff_the_same_way(bad, city, client, officer, api_client):
    rules = bad()
    client.force_login(officer)
    expected = ("invalid_tariff", expected_message(rules))
    assert via_service(city, rules) == expected
    assert via_model_clean(city, rules) == expected
    assert via_orm_save(city, rules) == expected
    assert via_admin(city, rules, client) == expected
    assert via_quote(city, rules, api_client) == expected
    assert list(Tariff.objects.values_list("rules", flat=True)) == [rules]  # only the quote's bulk-updated one


def test_the_check_is_the_engines_and_points_at_the_rule(city):
    rules = zero_unit_rules()
    with pytest.raises(InvalidTariff) as excinfo:
        tariff_rules_check(rules)
    error = engine_says(rules)
    assert excinfo.value.field == f"rules.{error.field}" == "rules.small.bands[0].ladder[0].unit_minutes"
    assert excinfo.value.details["problem"] == error.problem
    assert tariff_rules_check(CORE_ARTERIAL_RULES) is None


def test_the_english_wording_is_the_same_on_every_path(city, settings):
    from django.utils import translation

    rules = overlapping_rules()
    with translation.override("en"):
        service = via_service(city, rules)
        clean = via_model_clean(city, rules)
    assert service == clean == ("invalid_tariff", f"The fee rules are invalid: {engine_says(rules)}")
