import pytest

from tests.wechat import fake as wechat


@pytest.fixture
def fake_wechat(settings):
    """WeChat's servers on a local port, and the platform configured as the account it serves."""
    server_fake, server = wechat.start_fake()
    settings.WECHAT_API_BASE = server_fake.url
    settings.WECHAT_TOKEN = wechat.TOKEN
    settings.WECHAT_APP_ID = wechat.APP_ID
    settings.WECHAT_APP_SECRET = wechat.APP_SECRET
    settings.WECHAT_ENCODING_AES_KEY = wechat.AES_KEY
    settings.WECHAT_MINI_APP_ID = wechat.MINI_APP_ID
    settings.WECHAT_MINI_APP_SECRET = wechat.MINI_APP_SECRET
    settings.WECHAT_SITE_URL = "https://park.example.cn"
    settings.WECHAT_NOTICES = True
    settings.WECHAT_NOTICE_TEMPLATES = {"payment_receipt": "TPL-RECEIPT", "arrears_reminder": "TPL-ARREARS"}
    yield server_fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_ticket_opener():
    """Leaves the hotline port as it was found (tests register their own opener)."""
    from apps.common import tickets

    before = (tickets.ticket_opener(), tickets.form_path())
    yield
    tickets.register_ticket_opener(before[0], form_path=before[1])
