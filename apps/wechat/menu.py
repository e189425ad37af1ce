"""The official account's menu (issue 10 item 5: 停车地图 · 我的 · 服务: 缴费/预约/投诉), pushed to WeChat
by ``manage.py wechat_sync_menu`` or the admin's button."""

from __future__ import annotations

from . import links

#: click keys the conversation answers (``apps.wechat.conversation``)
KEY_PAY = "PAY"
KEY_COMPLAINT = "COMPLAINT"
KEY_MY_CARS = "MY_CARS"


def account_menu() -> dict:
    """The menu as WeChat's ``menu/create`` takes it (the account speaks Chinese)."""
    return {"button": [
        {"type": "view", "name": "停车地图", "url": links.absolute(links.MAP)},
        {"type": "view", "name": "我的", "url": links.signed_in(links.ME)},
        {"name": "服务", "sub_button": [
            {"type": "click", "name": "我的车", "key": KEY_MY_CARS},
            {"type": "click", "name": "缴费", "key": KEY_PAY},
            {"type": "view", "name": "预约", "url": links.signed_in(links.RESERVATIONS)},
            {"type": "click", "name": "投诉", "key": KEY_COMPLAINT},
        ]},
    ]}
