"""WeChat's servers, faked at their HTTP edge: a real HTTP server in a thread that answers the API
calls the platform makes (token, customer-service and template messages, menu, OAuth, jscode2session)
and records them; and messages to ``/wechat/`` crafted the way WeChat signs and encrypts them."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from wechatpy.crypto import WeChatCrypto

from apps.wechat import crafted

TOKEN = "wxp-test-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "account-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
MINI_APP_ID = "wxfedcba9876543210"
MINI_APP_SECRET = "mini-secret"


@dataclass
class Call:
    method: str
    path: str
    query: dict
    body: object


@dataclass
class FakeWechat:
    calls: list[Call] = field(default_factory=list)
    oauth_codes: dict[str, dict] = field(default_factory=dict)  # code → {"openid", "unionid"?}
    js_codes: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, list[dict]] = field(default_factory=dict)  # path → answers to give first
    token_delay_s: float = 0.0
    url: str = ""
    _tokens: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    issued: set = field(default_factory=set)

    def to(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]

    def fail(self, path: str, *answers: dict) -> None:
        self.failures.setdefault(path, []).extend(answers)

    def answer(self, method: str, path: str, query: dict, body) -> dict:
        with self._lock:
            self.calls.append(Call(method, path, query, body))
            pending = self.failures.get(path)
            if pending:
                return pending.pop(0)
        if path == "/cgi-bin/token":
            if query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            time.sleep(self.token_delay_s)
            token = f"ACCESS-{next(self._tokens)}"
            self.issued.add(token)
            return {"access_token": token, "expires_in": 7200}
        if path.startswith("/cgi-bin/"):
            if query.get("access_token") not in self.issued:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            if path == "/cgi-bin/message/template/send":
                return {"errcode": 0, "errmsg": "ok", "msgid": 20000 + len(self.calls)}
            return {"errcode": 0, "errmsg": "ok"}
        if path == "/sns/oauth2/access_token":
            known = self.oauth_codes.pop(query.get("code", ""), None)  # a code works once
            if known is None or query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
                return {"errcode": 40029, "errmsg": "invalid code"}
            return {"access_token": "OAUTH", "expires_in": 7200, "refresh_token": "R", "scope": "snsapi_base",
                    **known}
        if path == "/sns/jscode2session":
            known = self.js_codes.pop(query.get("js_code", ""), None)
            if known is None or query.get("appid") != MINI_APP_ID or query.get("secret") != MINI_APP_SECRET:
                return {"errcode": 40029, "errmsg": "invalid code"}
            return {"session_key": "SK", **known}
        return {"errcode": 404, "errmsg": "unknown api"}


def start_fake() -> tuple[FakeWechat, ThreadingHTTPServer]:
    fake = FakeWechat()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self):
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw.decode()) if raw else None
            except ValueError:
                body = raw
            answer = json.dumps(fake.answer(self.command, parts.path, query, body), ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = _reply

        def log_message(self, *args):
            pass  # the fake WeChat's access lines would drown the test output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server


# --- messages to /wechat/ ----------------------------------------------------------------------

text_xml, location_xml, event_xml = crafted.text_xml, crafted.location_xml, crafted.event_xml


def _query(token: str = TOKEN, **extra) -> tuple[dict, str, str]:
    params = crafted.signed_query(token, **extra)
    return params, params["timestamp"], params["nonce"]


def _path(params: dict) -> str:
    return "/wechat/?" + urlencode(params)


def post_plain(client, xml: str, *, token: str = TOKEN, query: dict | None = None):
    params, _ts, _nonce = _query(token)
    params.update(query or {})
    return client.generic("POST", _path(params), xml.encode(), content_type="text/xml")


def post_safe(client, xml: str, *, token: str = TOKEN, tamper: bool = False):
    """POST ``xml`` encrypted as WeChat's safe mode does; returns (response, reply text or None)."""
    params, _ts, _nonce = _query(token)
    body, params = crafted.encrypted(xml, token=TOKEN, aes_key=AES_KEY, app_id=APP_ID, query=params)
    if tamper:
        params["msg_signature"] = "0" * 40
    response = client.generic("POST", _path(params), body.encode(), content_type="text/xml")
    return response, reply_in(response, crypto=WeChatCrypto(TOKEN, AES_KEY, APP_ID))


def reply_in(response, *, crypto: WeChatCrypto | None = None) -> str | None:
    """The text of the passive reply in ``response``; None when it is ``success`` or refused."""
    if response.status_code != 200:
        return None
    return crafted.reply_text(response.content.decode(), crypto=crypto)
