"""``manage.py wechat_sync_menu``: push the official account's menu (``apps.wechat.menu``) to WeChat."""

import json

from django.core.management.base import BaseCommand, CommandError
from requests import RequestException
from wechatpy.exceptions import WeChatClientException

from apps.common.errors import DomainError
from apps.wechat.services import menu_push


class Command(BaseCommand):
    help = "Push the official account's menu to WeChat."

    def handle(self, *args, **options):
        try:
            menu = menu_push(actor=None)
        except (DomainError, WeChatClientException, RequestException) as exc:
            raise CommandError(f"menu not pushed: {exc}") from exc
        self.stdout.write(json.dumps(menu, ensure_ascii=False))
