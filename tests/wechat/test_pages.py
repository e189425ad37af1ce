"""/me/: inside WeChat a visitor is signed in through OAuth first; elsewhere told how to get in."""

from __future__ import annotations

import json

import pytest

from tests.factories_wechat import CitizenFactory

pytestmark = pytest.mark.django_db

WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.47"


def test_inside_wechat_a_visitor_goes_through_oauth(client, fake_wechat):
    response = client.get("/me/", headers={"User-Agent": WECHAT_UA})
    assert response.status_code == 302
    assert response["Location"] == "/wechat/oauth/?next=%2Fme%2F"


def test_elsewhere_a_visitor_is_told_how_to_get_in(client, fake_wechat):
    response = client.get("/me/")
    assert response.status_code == 200
    assert "请在微信中打开" in response.content.decode()
    assert b"me-text" not in response.content


def test_a_signed_in_citizen_gets_the_page_and_a_csrf_cookie(client):
    client.force_login(CitizenFactory().user)
    response = client.get("/me/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    text = json.loads(response.content.decode().split('id="me-text" type="application/json">')[1].split("</script>")[0])
    assert text["unbind"] == "解绑"


def test_the_map_links_to_my_page_and_it_links_back(client):
    assert 'href="/me/"' in client.get("/map/").content.decode()
    client.force_login(CitizenFactory().user)
    assert 'href="/map/"' in client.get("/me/").content.decode()
