"""WeChat's servers, faked at their HTTP edge: a real HTTP server in a thread that answers the API
calls the platform makes (token, customer-service and template messages, menu, OAuth, jscode2session)
and records them; and messages to ``/wechat/`` crafted the way WeChat signs and encrypts them."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from wechatpy.crypto import WeChatCrypto

TOKEN = "wxp-test-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "account-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
MINI_APP_ID = "wxfedcba9876543210"
MINI_APP_SECRET = "mini-secret"
ACCOUNT = "gh_wuxiparking"


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
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server


# --- messages to /wechat/ ----------------------------------------------------------------------

_msg_ids = itertools.count(int(time.time()) * 1000)


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's own scheme


def text_xml(openid: str, content: str, *, msg_id: int | None = None, created: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or next(_msg_ids)}</MsgId></xml>")


def location_xml(openid: str, lat: float, lon: float) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[location]]></MsgType>"
            f"<Location_X>{lat}</Location_X><Location_Y>{lon}</Location_Y><Scale>15</Scale>"
            f"<Label><![CDATA[无锡市]]></Label><MsgId>{next(_msg_ids)}</MsgId></xml>")


def event_xml(openid: str, event: str, key: str = "", *, created: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{created or next(_msg_ids)}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>")


def _query(token: str = TOKEN, **extra) -> tuple[dict, str, str]:
    timestamp, nonce = str(int(time.time())), f"n{next(_msg_ids)}"
    return {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}, \
        timestamp, nonce


def post_plain(client, xml: str, *, token: str = TOKEN, query: dict | None = None):
    params, _ts, _nonce = _query(token)
    params.update(query or {})
    path = "/wechat/?" + "&".join(f"{key}={value}" for key, value in params.items())
    return client.generic("POST", path, xml.encode(), content_type="text/xml")


def post_safe(client, xml: str, *, token: str = TOKEN, tamper: bool = False):
    """POST ``xml`` encrypted as WeChat's safe mode does; returns (response, reply text or None)."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    params, timestamp, nonce = _query(token, encrypt_type="aes")
    envelope = ET.fromstring(crypto.encrypt_message(xml, nonce, timestamp))  # noqa: S314 - our own XML
    encrypted = envelope.findtext("Encrypt")
    msg_signature = envelope.findtext("MsgSignature")
    if tamper:
        msg_signature = "0" * 40
    params["msg_signature"] = msg_signature
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    path = "/wechat/?" + "&".join(f"{key}={value}" for key, value in params.items())
    response = client.generic("POST", path, body.encode(), content_type="text/xml")
    return response, reply_in(response, crypto=crypto)


def reply_in(response, *, crypto: WeChatCrypto | None = None) -> str | None:
    """The text of the passive reply in ``response``; None when it is ``success``."""
    body = response.content.decode()
    if body == "success" or response.status_code != 200:
        return None
    if crypto is not None:
        envelope = ET.fromstring(body)  # noqa: S314 - the reply of the server under test
        body = crypto.decrypt_message(body, envelope.findtext("MsgSignature"), envelope.findtext("TimeStamp"),
                                      envelope.findtext("Nonce"))
    return ET.fromstring(body).findtext("Content")  # noqa: S314 - the reply of the server under test
