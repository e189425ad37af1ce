"""The issue's "done when", against a real server process: a message crafted by
``manage.py wechat_message`` binds a plate, asks 我的车 and gets the car's lot and fee, sends a
location and gets the nearby lots, in plain and in safe mode."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.common.geo import wgs84_to_gcj02
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory
from tests.realtime.live import live_servers, process_options, shared_database_name
from tests.wechat import fake as wechat

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ACCOUNT = {"WECHAT_TOKEN": wechat.TOKEN, "WECHAT_APP_ID": wechat.APP_ID, "WECHAT_ENCODING_AES_KEY": wechat.AES_KEY}


def _send(settings, server, *args, **options) -> str:
    for name, value in ACCOUNT.items():
        setattr(settings, name, value)
    out = StringIO()
    call_command("wechat_message", *args, url=server.url, stdout=out, **options)
    return out.getvalue()


def test_bind_my_car_and_a_location_through_a_running_server(city, tmp_path, settings):
    lot = LotFactory(code="LX-DEMO-1", name="崇安寺停车场", region=city["320213"], lat=31.5800, lon=120.3000,
                     free_berths=12, total_berths=60)
    SessionFactory(lot=lot, plate="苏B12345", entry_at=timezone.now() - timedelta(hours=2))
    with live_servers(1, process_options(shared_database_name(tmp_path), settings=ACCOUNT)) as (server,):
        assert "已绑定车牌 苏B12345" in _send(settings, server, "绑定 苏B12345")
        reply = _send(settings, server, "我的车", safe=True)
        assert "苏B12345 停在 崇安寺停车场" in reply and "当前费用 ¥" in reply
        lat, lon = wgs84_to_gcj02(31.5790, 120.3000)
        reply = _send(settings, server, location=f"{lat},{lon}")
        assert "1. 崇安寺停车场，111 米，空位 12/60" in reply
        assert "欢迎关注" in _send(settings, server, event="subscribe", safe=True)
        settings.WECHAT_TOKEN = "a-wrong-token"
        with pytest.raises(CommandError, match="403"):
            call_command("wechat_message", "帮助", url=server.url, stdout=StringIO())
