"""Messages crafted the way WeChat sends them to ``/wechat/``: XML, the query signature, and safe
mode's encryption (wechatpy's ``WeChatCrypto``). For ``manage.py wechat_message`` (trying the
account against a running server without WeChat) and the tests."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from wechatpy.crypto import WeChatCrypto

ACCOUNT = "gh_wuxiparking"

_msg_ids = itertools.count(int(time.time()) * 1000)


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's own scheme


def _envelope(openid: str, kind: str, fields: str, *, created: int | None, msg_id: int | None) -> str:
    head = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{escape(openid)}]]>"
            f"</FromUserName><CreateTime>{created or int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[{kind}]]></MsgType>{fields}")
    return head + (f"<MsgId>{msg_id}</MsgId>" if msg_id is not None else "") + "</xml>"


def text_xml(openid: str, content: str, *, msg_id: int | None = None, created: int | None = None) -> str:
    return _envelope(openid, "text", f"<Content><![CDATA[{content}]]></Content>", created=created,
                     msg_id=msg_id or next(_msg_ids))


def location_xml(openid: str, lat: float, lon: float) -> str:
    """A location message; WeChat sends GCJ-02."""
    fields = (f"<Location_X>{lat}</Location_X><Location_Y>{lon}</Location_Y><Scale>15</Scale>"
              "<Label><![CDATA[无锡市]]></Label>")
    return _envelope(openid, "location", fields, created=None, msg_id=next(_msg_ids))


def event_xml(openid: str, event: str, key: str = "", *, created: int | None = None) -> str:
    fields = f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
    return _envelope(openid, "event", fields, created=created or next(_msg_ids), msg_id=None)


def signed_query(token: str, **extra) -> dict:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    return {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}


def encrypted(xml: str, *, token: str, aes_key: str, app_id: str, query: dict) -> tuple[str, dict]:
    """``xml`` in safe mode: the body WeChat posts and the query with its ``msg_signature``."""
    crypto = WeChatCrypto(token, aes_key, app_id)
    envelope = ET.fromstring(crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))  # noqa: S314 - ours
    body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{envelope.findtext('Encrypt')}]]></Encrypt></xml>")
    return body, {**query, "encrypt_type": "aes", "msg_signature": envelope.findtext("MsgSignature")}


def reply_text(body: str, *, crypto: WeChatCrypto | None = None) -> str | None:
    """The text of a passive reply; None for ``success`` (nothing to say)."""
    if body == "success":
        return None
    if crypto is not None:
        envelope = ET.fromstring(body)  # noqa: S314 - the reply of our own server
        body = crypto.decrypt_message(body, envelope.findtext("MsgSignature"), envelope.findtext("TimeStamp"),
                                      envelope.findtext("Nonce"))
    return ET.fromstring(body).findtext("Content")  # noqa: S314 - the reply of our own server
