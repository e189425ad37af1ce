"""WeChat's silent web login (snsapi_base) for pages opened inside WeChat: the openid becomes the
citizen's Django session."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from .client import oauth, oauth_openid
from .errors import WechatLoginFailed, WechatNotConfigured
from .links import ME
from .services import citizen_for_identity

_STATE_KEY = "wechat_oauth"


def _next(request, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return ME


def _callback_uri() -> str:
    return settings.WECHAT_SITE_URL + reverse("wechat:oauth-callback")


def _refusal(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@require_GET
def oauth_start(request):
    """Send the browser to WeChat's authorisation page, which comes back to ``oauth_callback``."""
    target = _next(request, request.GET.get("next"))
    if request.user.is_authenticated and hasattr(request.user, "citizen"):
        return HttpResponseRedirect(target)
    state = secrets.token_urlsafe(16)
    request.session[_STATE_KEY] = {"state": state, "next": target}
    try:
        client = oauth(redirect_uri=_callback_uri(), state=state)
    except WechatNotConfigured:
        return _refusal(_("微信登录暂不可用"), 503)
    return HttpResponseRedirect(client.authorize_url)


@require_GET
def oauth_callback(request):
    pending = request.session.pop(_STATE_KEY, None)
    code, state = request.GET.get("code", ""), request.GET.get("state", "")
    if not pending or not state or not secrets.compare_digest(pending.get("state", ""), state):
        return _refusal(_("登录链接已失效，请从公众号菜单重新进入"), 400)
    if not code:  # the user declined, or WeChat sent nothing to exchange
        return _refusal(_("未获得微信授权"), 400)
    try:
        openid, unionid = oauth_openid(code=code, redirect_uri=_callback_uri())
    except WechatLoginFailed:
        return _refusal(_("微信登录失败，请从公众号菜单重新进入"), 400)
    except WechatNotConfigured:
        return _refusal(_("微信登录暂不可用"), 503)
    citizen = citizen_for_identity(app_id=settings.WECHAT_APP_ID, openid=openid, unionid=unionid)
    login(request, citizen.user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(pending.get("next") or ME)
