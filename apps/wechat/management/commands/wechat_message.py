"""``manage.py wechat_message TEXT``: send ``/wechat/`` of a running server a message crafted and
signed as WeChat would (encrypted with ``--safe``) and print the account's reply. For trying the
account without WeChat: the demo city's server (DEBUG) has a demo token and AES key.

    manage.py wechat_message "绑定 苏B12345"
    manage.py wechat_message "我的车"
    manage.py wechat_message --location 31.5746,120.3003     # GCJ-02, as WeChat sends it
    manage.py wechat_message --event subscribe --safe
"""

from __future__ import annotations

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from wechatpy.crypto import WeChatCrypto

from apps.wechat import crafted


class Command(BaseCommand):
    help = "Send /wechat/ a message crafted and signed as WeChat would, and print the reply."

    def add_arguments(self, parser):
        parser.add_argument("text", nargs="?", default="", help="a text message (a command)")
        parser.add_argument("--openid", default="o-demo-citizen", help="who sends it")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server")
        parser.add_argument("--location", help="LAT,LON in GCJ-02: send a location instead")
        parser.add_argument("--event", help="send an event instead (subscribe, CLICK, …)")
        parser.add_argument("--key", default="", help="the event's key (a menu click's)")
        parser.add_argument("--safe", action="store_true", help="encrypt it (safe mode)")

    def handle(self, *args, text, openid, url, location, event, key, safe, **options):
        if not settings.WECHAT_TOKEN:
            raise CommandError("WECHAT_TOKEN is not set")
        if location:
            try:
                lat, lon = (float(part) for part in location.split(","))
            except ValueError as exc:
                raise CommandError("--location is LAT,LON") from exc
            xml = crafted.location_xml(openid, lat, lon)
        elif event:
            xml = crafted.event_xml(openid, event, key)
        elif text:
            xml = crafted.text_xml(openid, text)
        else:
            raise CommandError("give a text, --location or --event")
        query = crafted.signed_query(settings.WECHAT_TOKEN)
        body, crypto = xml, None
        if safe:
            if not settings.WECHAT_ENCODING_AES_KEY:
                raise CommandError("WECHAT_ENCODING_AES_KEY is not set")
            body, query = crafted.encrypted(xml, token=settings.WECHAT_TOKEN, aes_key=settings.WECHAT_ENCODING_AES_KEY,
                                            app_id=settings.WECHAT_APP_ID, query=query)
            crypto = WeChatCrypto(settings.WECHAT_TOKEN, settings.WECHAT_ENCODING_AES_KEY, settings.WECHAT_APP_ID)
        try:
            response = httpx.post(url.rstrip("/") + "/wechat/", params=query, content=body.encode(), timeout=30,
                                  headers={"Content-Type": "text/xml"})
        except httpx.HTTPError as exc:
            raise CommandError(f"{url} did not answer: {exc}") from exc
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}: {response.text[:200]}")
        reply = crafted.reply_text(response.text, crypto=crypto)
        self.stdout.write(reply if reply is not None else "success")
