"""The staff API uses the admin's scope: a 梁溪 officer never sees 滨湖's lots, by list or by code."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from tests.factories import LotFactory, OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"
LIST = "/api/v1/staff/lots/"


@pytest.fixture
def lots(city):
    operator = OperatorFactory()
    return {
        "lx": LotFactory(code="LX-0001", region=city[LX], operator=operator),
        "lx2": LotFactory(code="LX-0002", region=city[LX]),
        "bh": LotFactory(code="BH-0001", region=city[BH], operator=operator),
        "operator": operator,
    }


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [lot["code"] for lot in response.json()["results"]]


def test_a_region_officer_sees_only_their_regions_lots(api_client, staff_factory, lots):
    api_client.force_authenticate(staff_factory("region", LX))
    assert codes(api_client.get(LIST)) == ["LX-0001", "LX-0002"]
    assert codes(api_client.get(LIST, {"q": "BH"})) == []
    assert codes(api_client.get(LIST, {"region": BH})) == []
    response = api_client.get(f"{LIST}BH-0001/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    detail = api_client.get(f"{LIST}LX-0001/").json()
    assert detail["filing_status"] == "unfiled" and detail["offline_since"] is None
    assert detail["operator_credit_code"] == lots["operator"].credit_code


def test_an_operator_sees_only_its_own_lots_across_regions(api_client, staff_factory, lots):
    api_client.force_authenticate(staff_factory("operator", lots["operator"]))
    assert codes(api_client.get(LIST)) == ["BH-0001", "LX-0001"]


def test_city_wide_staff_see_every_lot_and_staff_without_scope_none(api_client, staff_factory, lots):
    api_client.force_authenticate(staff_factory("city"))
    assert codes(api_client.get(LIST)) == ["BH-0001", "LX-0001", "LX-0002"]
    api_client.force_authenticate(UserFactory(is_staff=True))
    assert codes(api_client.get(LIST)) == []


def test_citizens_and_strangers_are_refused(api_client, lots):
    response = api_client.get(LIST)
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Token"
    api_client.force_authenticate(UserFactory())
    response = api_client.get(LIST)
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_a_token_works_like_a_session(api_client, staff_factory, lots):
    officer = staff_factory("region", BH)
    token = Token.objects.create(user=officer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert codes(api_client.get(LIST)) == ["BH-0001"]


def test_the_list_costs_the_same_queries_for_more_rows(api_client, staff_factory, city, django_assert_max_num_queries):
    officer = staff_factory("region", LX)
    api_client.force_authenticate(officer)
    LotFactory.create_batch(3, region=city[LX])
    api_client.get(LIST)  # warm the scope cache on nothing: each request resolves it once
    with django_assert_max_num_queries(4) as few:
        assert len(codes(api_client.get(LIST))) == 3
    LotFactory.create_batch(20, region=city[LX])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(codes(api_client.get(LIST))) == 23
