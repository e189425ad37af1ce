"""The pages the account's replies and menu point to, as absolute links (WeChat opens them)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings

from apps.common import tickets

MAP = "/map/"
ME = "/me/"
RESERVATIONS = "/reservations/"


def absolute(path: str) -> str:
    return settings.WECHAT_SITE_URL + path


def pay(lot_code: str) -> str:
    """The lot's payment code page (SPEC: ``/pay/<lot code>/``)."""
    return absolute(f"/pay/{quote(lot_code)}/")


def navigate(lot_code: str) -> str:
    """Walking or driving directions to a lot (the map's AMap hand-off)."""
    return absolute(f"/map/lots/{quote(lot_code)}/navigate/")


def hotline_form() -> str:
    return absolute(tickets.form_path())


def signed_in(path: str) -> str:
    """A page of ours opened from the menu: through WeChat's silent login first, so it knows who."""
    return absolute("/wechat/oauth/?" + urlencode({"next": path}))
