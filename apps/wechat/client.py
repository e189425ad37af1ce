"""Talking to WeChat's servers: wechatpy's clients, pointed at ``WECHAT_API_BASE``, with the access
token in the shared cache.

wechatpy names ``https://api.weixin.qq.com`` in many places; every request it makes goes through
the ``requests`` session each client holds, so that session is where the base is swapped
(``settings.WECHAT_API_BASE``: the real servers by default, a fake in tests).

The access token lives two hours and WeChat limits how often it may be fetched, so all server
processes share one (``apps.common.cache``), and when it has run out one process fetches the next
while the others wait for it a moment instead of all fetching at once.
"""

from __future__ import annotations

import time

import requests
from django.conf import settings
from wechatpy import WeChatClient
from wechatpy.oauth import WeChatOAuth
from wechatpy.session import SessionStorage

from apps.common.cache import cache_add, cache_delete, cache_get, cache_set

from .errors import WechatLoginFailed, WechatNotConfigured

WECHAT_BASE = "https://api.weixin.qq.com"
#: seconds a request to WeChat may take: a slow WeChat must not hold a worker
TIMEOUT_S = 5
#: the token is replaced this long before WeChat says it expires
TOKEN_MARGIN_S = 300
_REFRESH_LOCK_S = 10
_WAIT_STEP_S = 0.05


class RebasedSession(requests.Session):
    """A ``requests`` session that sends what is addressed to WeChat's API to ``base`` instead."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if isinstance(url, str) and url.startswith(WECHAT_BASE):
            url = self.base + url[len(WECHAT_BASE):]
        kwargs["timeout"] = kwargs.get("timeout") or TIMEOUT_S
        return super().request(method, url, *args, **kwargs)


class SharedCacheStorage(SessionStorage):
    """wechatpy's token storage in the shared cache (Redis in production)."""

    prefix = "wechat:"

    def get(self, key, default=None):
        value = cache_get(self.prefix + key)
        return default if value is None else value

    def set(self, key, value, ttl=None):
        ttl = max(60, int(ttl or 7200) - TOKEN_MARGIN_S)
        cache_set(self.prefix + key, value, timeout=ttl)

    def delete(self, key):
        cache_delete(self.prefix + key)


class AccountClient(WeChatClient):
    """The official account's client: one process at a time fetches the access token."""

    @property
    def access_token(self):
        token = self.session.get(self.access_token_key)
        if token:
            return token
        lock = f"{SharedCacheStorage.prefix}{self.access_token_key}:refresh"
        claimed = cache_add(lock, 1, timeout=_REFRESH_LOCK_S)
        if claimed is False:  # another process is fetching it: wait for theirs
            deadline = time.monotonic() + _REFRESH_LOCK_S
            while time.monotonic() < deadline:
                time.sleep(_WAIT_STEP_S)
                token = self.session.get(self.access_token_key)
                if token:
                    return token
        try:
            result = self.fetch_access_token()
        finally:
            if claimed:
                cache_delete(lock)
        # Returned from the answer, not re-read: with the cache unreachable nothing was stored.
        return result["access_token"]


def _require(*values: str) -> None:
    if not all(values):
        raise WechatNotConfigured("微信公众号未配置 / the WeChat account is not configured")


def official_account() -> AccountClient:
    _require(settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET)
    client = AccountClient(settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET, session=SharedCacheStorage(),
                           timeout=TIMEOUT_S)
    client._http = RebasedSession(settings.WECHAT_API_BASE)
    return client


def oauth(*, redirect_uri: str, state: str) -> WeChatOAuth:
    """snsapi_base web authorisation for pages opened inside WeChat (the openid, silently)."""
    _require(settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET)
    client = WeChatOAuth(settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET, redirect_uri, scope="snsapi_base",
                         state=state)
    client._http = RebasedSession(settings.WECHAT_API_BASE)
    return client


def oauth_openid(*, code: str, redirect_uri: str) -> tuple[str, str | None]:
    """The (openid, unionid) WeChat gives for an OAuth code."""
    from wechatpy.exceptions import WeChatOAuthException

    try:
        result = oauth(redirect_uri=redirect_uri, state="").fetch_access_token(code)
    except (WeChatOAuthException, requests.RequestException, ValueError) as exc:
        raise WechatLoginFailed(_login_failed_message(exc)) from exc
    return _identity(result)


def mini_program_session(*, code: str) -> tuple[str, str | None]:
    """The (openid, unionid) WeChat gives for a mini program's ``wx.login`` code (jscode2session).
    Asked directly: the exchange needs no access token, which wechatpy's client would fetch first."""
    _require(settings.WECHAT_MINI_APP_ID, settings.WECHAT_MINI_APP_SECRET)
    http = RebasedSession(settings.WECHAT_API_BASE)
    try:
        response = http.get(f"{WECHAT_BASE}/sns/jscode2session", params={
            "appid": settings.WECHAT_MINI_APP_ID, "secret": settings.WECHAT_MINI_APP_SECRET, "js_code": code,
            "grant_type": "authorization_code"})
        response.raise_for_status()
        result = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise WechatLoginFailed(_login_failed_message(exc)) from exc
    if result.get("errcode"):
        raise WechatLoginFailed(_login_failed_message(result.get("errmsg", result["errcode"])),
                                details={"errcode": result["errcode"]})
    return _identity(result)


def _identity(result: dict) -> tuple[str, str | None]:
    openid = result.get("openid") if isinstance(result, dict) else None
    if not isinstance(openid, str) or not openid:
        raise WechatLoginFailed(_login_failed_message("no openid"))
    unionid = result.get("unionid")
    return openid, unionid if isinstance(unionid, str) and unionid else None


def _login_failed_message(reason) -> str:
    return f"微信登录失败，请重新进入 / WeChat login failed: {str(reason)[:120]}"
