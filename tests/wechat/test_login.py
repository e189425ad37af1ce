"""WeChat login against a fake WeChat: OAuth (snsapi_base) → a session; jscode2session → a token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from apps.wechat.models import Citizen, WechatIdentity
from tests.factories_wechat import IdentityFactory
from tests.wechat import fake as wechat

pytestmark = pytest.mark.django_db


def _start(client, next_path="/me/"):
    response = client.get("/wechat/oauth/", {"next": next_path})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "open.weixin.qq.com", "/connect/oauth2/authorize")
    assert target.fragment == "wechat_redirect"
    query = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert query["appid"] == wechat.APP_ID and query["scope"] == "snsapi_base"
    assert query["redirect_uri"] == "https://park.example.cn/wechat/oauth/callback/"
    return query["state"]


def test_oauth_logs_the_citizen_in_with_a_session(client, fake_wechat):
    state = _start(client, "/me/sessions/")
    fake_wechat.oauth_codes["CODE-1"] = {"openid": "o-oauth-1", "unionid": "u-1"}
    response = client.get("/wechat/oauth/callback/", {"code": "CODE-1", "state": state})
    assert response.status_code == 302 and response["Location"] == "/me/sessions/"
    identity = WechatIdentity.objects.get(openid="o-oauth-1")
    assert identity.app_id == wechat.APP_ID and identity.citizen.unionid == "u-1"
    assert client.get("/api/v1/me/plates").status_code == 200  # the session is the citizen's
    (call,) = fake_wechat.to("/sns/oauth2/access_token")
    assert call.query["code"] == "CODE-1" and call.query["grant_type"] == "authorization_code"


def test_oauth_finds_the_citizen_who_talked_to_the_account_before(client, fake_wechat):
    known = IdentityFactory(openid="o-known")
    state = _start(client)
    fake_wechat.oauth_codes["CODE-2"] = {"openid": "o-known"}
    client.get("/wechat/oauth/callback/", {"code": "CODE-2", "state": state})
    assert Citizen.objects.count() == 1
    assert int(client.session["_auth_user_id"]) == known.citizen.user_id


@pytest.mark.parametrize("next_path", ["https://evil.example.com/", "//evil.example.com/x"])
def test_oauth_never_sends_the_browser_elsewhere(client, fake_wechat, next_path):
    state = _start(client, next_path)
    fake_wechat.oauth_codes["CODE-3"] = {"openid": "o-3"}
    response = client.get("/wechat/oauth/callback/", {"code": "CODE-3", "state": state})
    assert response["Location"] == "/me/"


def test_oauth_with_a_wrong_state_or_code_logs_nobody_in(client, fake_wechat):
    state = _start(client)
    fake_wechat.oauth_codes["CODE-4"] = {"openid": "o-4"}
    assert client.get("/wechat/oauth/callback/", {"code": "CODE-4", "state": "forged"}).status_code == 400
    state = _start(client)
    assert client.get("/wechat/oauth/callback/", {"code": "NOT-ISSUED", "state": state}).status_code == 400
    assert client.get("/wechat/oauth/callback/", {"code": "CODE-4"}).status_code == 400  # no state at all
    assert not Citizen.objects.exists()
    assert "_auth_user_id" not in client.session


def test_mini_program_code_becomes_a_token(api_client, fake_wechat):
    fake_wechat.js_codes["JS-1"] = {"openid": "o-mini-1", "unionid": "u-9"}
    response = api_client.post("/api/v1/wechat/miniprogram/login", {"code": "JS-1"}, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    identity = WechatIdentity.objects.get(openid="o-mini-1")
    assert identity.app_id == wechat.MINI_APP_ID
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/me/plates").status_code == 200
    (call,) = fake_wechat.to("/sns/jscode2session")
    assert call.query["js_code"] == "JS-1" and call.query["appid"] == wechat.MINI_APP_ID


def test_mini_program_and_account_are_one_citizen_by_unionid(api_client, fake_wechat):
    account = IdentityFactory(openid="o-account", citizen__unionid="u-same")
    fake_wechat.js_codes["JS-2"] = {"openid": "o-mini-2", "unionid": "u-same"}
    api_client.post("/api/v1/wechat/miniprogram/login", {"code": "JS-2"}, format="json")
    assert WechatIdentity.objects.get(openid="o-mini-2").citizen == account.citizen


@pytest.mark.parametrize("body", [{"code": "NOT-ISSUED"}, {}, {"code": ""}])
def test_mini_program_login_with_a_bad_code_is_400(api_client, fake_wechat, body):
    response = api_client.post("/api/v1/wechat/miniprogram/login", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"wechat_login_failed", "invalid"}
    assert not Citizen.objects.exists()


def test_mini_program_login_when_wechat_is_unreachable_is_a_clear_error(api_client, fake_wechat, settings):
    settings.WECHAT_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    response = api_client.post("/api/v1/wechat/miniprogram/login", {"code": "JS-3"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "wechat_login_failed"


def test_login_without_configuration_is_503(api_client, client, fake_wechat, settings):
    settings.WECHAT_MINI_APP_ID = ""
    settings.WECHAT_APP_ID = ""
    response = api_client.post("/api/v1/wechat/miniprogram/login", {"code": "JS-4"}, format="json")
    assert response.status_code == 503 and response.json()["error"]["code"] == "wechat_not_configured"
    assert client.get("/wechat/oauth/").status_code == 503
