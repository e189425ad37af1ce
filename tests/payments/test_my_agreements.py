"""无感支付 from 我的: a citizen signs an agreement for a bound plate (the gateway confirms it),
lists their agreements with the channels they may sign, and ends their own; every refusal has its
SPEC §1 code and signs nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.payments.models import PaymentAgreement
from apps.payments.sandbox import REVOKED_PREFIX
from tests.factories_wechat import BoundPlateFactory, IdentityFactory

pytestmark = pytest.mark.django_db

PATH = "/api/v1/me/agreements"


@pytest.fixture
def me():
    identity = IdentityFactory(openid="o-agree")
    BoundPlateFactory(citizen=identity.citizen, plate="苏B12345")
    client = APIClient()
    client.force_authenticate(identity.citizen.user)
    client.user = identity.citizen.user
    return client


def _code(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]["code"]


def test_a_citizen_signs_lists_and_ends_an_agreement_for_a_bound_plate(me):
    listed = me.get(PATH).json()
    assert listed["agreements"] == []
    assert {"code": "sandbox", "name": listed["channels"][0]["name"], "needs_ref": True} in listed["channels"]
    response = me.post(PATH, {"plate": "苏b12345", "channel": "sandbox", "provider_ref": "AG-1"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["plate"], body["channel"], body["state"], body["ended_at"]) == ("苏B12345", "sandbox", "active", None)
    agreement = PaymentAgreement.objects.get()
    assert (agreement.user, agreement.operator, agreement.provider_ref) == (me.user, None, "AG-1")
    assert [row["id"] for row in me.get(PATH).json()["agreements"]] == [agreement.pk]
    ended = me.post(f"{PATH}/{agreement.pk}/end")
    assert ended.status_code == 200 and ended.json()["state"] == "terminated"
    assert _code(me.post(f"{PATH}/{agreement.pk}/end"), 409) == "agreement_not_active"


def test_signing_is_refused_for_a_plate_not_bound_an_unconfirmed_agreement_or_a_second_one(me):
    assert _code(me.post(PATH, {"plate": "苏B99999", "channel": "sandbox", "provider_ref": "AG-2"}, format="json"),
                 403) == "plate_not_bound"
    assert _code(me.post(PATH, {"plate": "苏B12345", "channel": "sandbox", "provider_ref": REVOKED_PREFIX + "1"},
                         format="json"), 400) == "agreement_refused"
    assert _code(me.post(PATH, {"plate": "苏B12345", "channel": "nope", "provider_ref": "AG-3"}, format="json"),
                 400) == "invalid_channel"
    assert _code(me.post(PATH, {"plate": "苏B12345", "channel": "sandbox", "ref": "AG-3"}, format="json"),
                 400) == "unknown_parameter"
    assert not PaymentAgreement.objects.exists()
    assert me.post(PATH, {"plate": "苏B12345", "channel": "sandbox", "provider_ref": "AG-4"},
                   format="json").status_code == 201
    assert _code(me.post(PATH, {"plate": "苏B12345", "channel": "sandbox", "provider_ref": "AG-5"}, format="json"),
                 409) == "agreement_exists"


def test_another_citizens_agreement_cannot_be_ended_and_login_is_needed(me):
    other = IdentityFactory(openid="o-other")
    BoundPlateFactory(citizen=other.citizen, plate="苏B54321")
    theirs = PaymentAgreement.objects.create(plate="苏B54321", channel="sandbox", provider_ref="AG-9",
                                             user=other.citizen.user, signed_at="2026-03-01T09:00:00+08:00")
    assert _code(me.post(f"{PATH}/{theirs.pk}/end"), 404) == "not_found"
    assert PaymentAgreement.objects.get().state == "active"
    assert me.get(PATH).json()["agreements"] == []
    assert APIClient().get(PATH).status_code == 401
