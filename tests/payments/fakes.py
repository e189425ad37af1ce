"""Fake payment gateways: real HTTP servers in a thread, with keys generated per test.

Each fake checks our requests' signatures the way its gateway does, answers as the gateway does
(signing its answers with the gateway's own key) and makes genuine signed notices for the
callback view. ``settings`` is what to put in Django's settings to point our provider at it::

    with WeChatGateway() as gw, override_settings(**gw.settings):   # or the ``wechat_gw`` fixture
        pay = providers.get("wechat").start(request)
        gw.pay(order_no)                                   # the payer pays
        headers, body = gw.notice(order_no)                # the notice WeChat would send
        client.post("/payments/notify/wechat/", body, content_type="application/json", headers=headers)

Nothing here patches our code: the provider talks HTTP to the fake and verifies the fake's keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apps.payments.providers.base import PayRequest
from apps.payments.providers.wire import SHANGHAI


# --- keys ------------------------------------------------------------------------------------------
class KeyPair:
    """An RSA 2048 key made for the test, with its PEM texts and SHA256withRSA helpers."""

    def __init__(self) -> None:
        self.key = _fresh_key()
        self.private_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

    def verify(self, message: bytes, signature: str) -> bool:
        try:
            self.key.public_key().verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True


_pool: list[rsa.RSAPrivateKey] = []


def _fresh_key() -> rsa.RSAPrivateKey:
    """A new RSA 2048 key. Generation is the slow part of these tests on a shared machine, so a
    small pool is made once per process and handed out round-robin: every gateway in a test
    still holds keys distinct from each other and from ours."""
    if not _pool:
        _pool.extend(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(8))
    key = _pool.pop(0)
    _pool.append(key)
    return key


# --- the server --------------------------------------------------------------------------------------
class FakeGateway:
    """A threaded HTTP server; subclasses implement ``handle``. ``calls`` records every request
    (method, path with query, headers, body) so a test can say what went out."""

    def __init__(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                gateway.calls.append((self.command, self.path, headers, body))
                status, out_headers, out = gateway.handle(self.command, self.path, headers, body)
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass  # the fake gateway's access lines would drown the test output

        self.calls: list[tuple[str, str, dict[str, str], bytes]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes):  # pragma: no cover
        """Each gateway's fake answers its own paths (the subclasses); the base answers none."""
        raise NotImplementedError

    def paths(self) -> list[str]:
        return [f"{method} {urlsplit(path).path}" for method, path, _, _ in self.calls]


def _json(status: int, data: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(data, ensure_ascii=False).encode()


def order_no() -> str:
    return "WX" + secrets.token_hex(12).upper()


def pay_request(**overrides: Any) -> PayRequest:
    """A PayRequest as an order would make it (15 minutes to pay)."""
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    values: dict[str, Any] = {
        "order_no": order_no(), "amount_fen": 1250, "description": "无锡停车-停车费",
        "expires_at": now + timedelta(minutes=15), "notify_url": "https://pay.example.cn/payments/notify/x/",
        "return_url": "https://pay.example.cn/pay/LX-001/", "placed_at": now}
    values.update(overrides)
    return PayRequest(**values)


def _now() -> datetime:
    return datetime.now(SHANGHAI).replace(microsecond=0)


# --- WeChat Pay API v3 ----------------------------------------------------------------------------------
_AUTH = re.compile(r'(\w+)="([^"]*)"')


class WeChatGateway(FakeGateway):
    """WeChat Pay v3 in public-key mode: requests must carry a valid merchant ``Authorization``
    and our public key id in ``Wechatpay-Serial``; answers are signed with the WeChat Pay key."""

    def __init__(self) -> None:
        super().__init__()
        self.merchant = KeyPair()  # ours: the gateway knows its public half
        self.platform = KeyPair()  # WeChat Pay's: we are given its public half
        self.mch_id = "1900000109"
        self.app_id = "wx8888888888888888"
        self.apiv3_key = secrets.token_hex(16)  # 32 characters
        self.mch_serial = secrets.token_hex(20).upper()
        self.public_key_id = "PUB_KEY_ID_" + secrets.token_hex(12).upper()
        self.orders: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.agreed: set[str] = set()  # plates with the parking service open
        self.parkings: dict[str, dict[str, Any]] = {}
        self.answer_key: KeyPair | None = None  # sign answers with another key (a forged answer)

    @property
    def settings(self) -> dict[str, str]:
        return {
            "WECHAT_PAY_MCH_ID": self.mch_id, "WECHAT_PAY_APP_ID": self.app_id,
            "WECHAT_PAY_APIV3_KEY": self.apiv3_key, "WECHAT_PAY_MCH_PRIVATE_KEY": self.merchant.private_pem,
            "WECHAT_PAY_MCH_SERIAL": self.mch_serial, "WECHAT_PAY_PUBLIC_KEY": self.platform.public_pem,
            "WECHAT_PAY_PUBLIC_KEY_ID": self.public_key_id, "WECHAT_PAY_API_BASE": self.url,
        }

    # the payer and WeChat, as a test drives them
    def pay(self, order_no: str, openid: str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") -> dict[str, Any]:
        order = self.orders[order_no]
        order.update(trade_state="SUCCESS", transaction_id="4200" + secrets.token_hex(12)[:24],
                     success_time=_now().isoformat(), payer={"openid": openid})
        return order

    def sign_headers(self, body: str, *, key: KeyPair | None = None, timestamp: int | None = None,
                     serial: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = uuid.uuid4().hex
        signature = (key or self.platform).sign(f"{ts}\n{nonce}\n{body}\n".encode())
        return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                "Wechatpay-Serial": self.public_key_id if serial is None else serial,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}

    def encrypt(self, resource: dict[str, Any], *, key: str | None = None) -> dict[str, str]:
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat sends
        aad = "transaction"
        cipher = AESGCM((key or self.apiv3_key).encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), aad.encode())
        return {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(cipher).decode(), "associated_data": aad, "nonce": nonce}

    def notice(self, order_no: str = "", *, resource: dict[str, Any] | None = None,
               event_type: str = "TRANSACTION.SUCCESS", apiv3_key: str | None = None, **sign: Any
               ) -> tuple[dict[str, str], bytes]:
        """A genuine notice for an order (its current state) or for ``resource``; ``sign``
        passes ``key``/``timestamp``/``serial`` to forge one."""
        data = resource if resource is not None else self._public(self.orders[order_no])
        envelope = {"id": str(uuid.uuid4()), "create_time": _now().isoformat(), "resource_type": "encrypt-resource",
                    "event_type": event_type, "summary": "支付成功", "resource": self.encrypt(data, key=apiv3_key)}
        body = json.dumps(envelope, ensure_ascii=False)
        return self.sign_headers(body, **sign), body.encode()

    def refund_notice(self, refund_no: str) -> tuple[dict[str, str], bytes]:
        refund = self.refunds[refund_no]
        resource = {"mchid": self.mch_id, "out_trade_no": refund["out_trade_no"],
                    "transaction_id": refund["transaction_id"], "out_refund_no": refund_no,
                    "refund_id": refund["refund_id"], "refund_status": "SUCCESS", "success_time": _now().isoformat(),
                    "amount": {"total": refund["amount"]["total"], "refund": refund["amount"]["refund"],
                               "payer_total": refund["amount"]["total"], "payer_refund": refund["amount"]["refund"]}}
        return self.notice(resource=resource, event_type="REFUND.SUCCESS")

    def _public(self, order: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    # the gateway
    def _answer(self, status: int, data: Any = None) -> tuple[int, dict[str, str], bytes]:
        body = "" if data is None else json.dumps(data, ensure_ascii=False)
        headers = {"Content-Type": "application/json", "Request-ID": uuid.uuid4().hex}
        if 200 <= status < 300:
            headers.update(self.sign_headers(body, key=self.answer_key))
        return status, headers, body.encode()

    def _error(self, status: int, code: str, message: str):
        return self._answer(status, {"code": code, "message": message})

    def _authorised(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        auth = headers.get("Authorization", "")
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return "no WECHATPAY2-SHA256-RSA2048 Authorization"
        fields = dict(_AUTH.findall(auth))
        if fields.get("mchid") != self.mch_id or fields.get("serial_no") != self.mch_serial:
            return "wrong mchid or serial_no"
        if abs(time.time() - int(fields.get("timestamp") or 0)) > 300:
            return "stale timestamp"
        message = f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body.decode()}\n".encode()
        if not self.merchant.verify(message, fields.get("signature", "")):
            return "bad signature"
        if headers.get("Wechatpay-Serial") != self.public_key_id:
            return "Wechatpay-Serial is not the WeChat Pay public key id"
        return ""

    def handle(self, method, path, headers, body):
        problem = self._authorised(method, path, headers, body)
        if problem:
            return self._error(401, "SIGN_ERROR", problem)
        url = urlsplit(path)
        query = dict(parse_qsl(url.query))
        data = json.loads(body) if body else {}
        route = url.path
        if method == "POST" and route in {"/v3/pay/transactions/jsapi", "/v3/pay/transactions/native"}:
            if data.get("appid") != self.app_id or data.get("mchid") != self.mch_id:
                return self._error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
            if route.endswith("jsapi") and not (data.get("payer") or {}).get("openid"):
                return self._error(400, "PARAM_ERROR", "缺少参数openid")
            no = data["out_trade_no"]
            old = self.orders.get(no)
            if old and old["amount"]["total"] != data["amount"]["total"]:
                return self._error(400, "INVALID_REQUEST", "201 商户订单号重复")
            if not old:
                self.orders[no] = {"appid": self.app_id, "mchid": self.mch_id, "out_trade_no": no,
                                   "trade_state": "NOTPAY", "trade_state_desc": "订单未支付",
                                   "amount": {"total": data["amount"]["total"], "currency": "CNY"},
                                   "_trade_type": "JSAPI" if route.endswith("jsapi") else "NATIVE",
                                   "_request": data}
            if route.endswith("jsapi"):
                return self._answer(200, {"prepay_id": "wx" + secrets.token_hex(14)})
            return self._answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=" + secrets.token_urlsafe(6)})
        match = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)(/close)?", route)
        if match:
            no, closing = unquote(match.group(1)), bool(match.group(2))
            order = self.orders.get(no)
            if closing:
                if data.get("mchid") != self.mch_id:
                    return self._error(400, "PARAM_ERROR", "mchid")
                if order is None:
                    return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
                if order["trade_state"] == "SUCCESS":
                    return self._error(400, "ORDERPAID", "订单已支付")
                order["trade_state"] = "CLOSED"
                return self._answer(204)
            if query.get("mchid") != self.mch_id:
                return self._error(400, "PARAM_ERROR", "mchid")
            if order is None or order.get("_parking"):
                return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
            return self._answer(200, self._public(order))
        if method == "POST" and route == "/v3/refund/domestic/refunds":
            order = self.orders.get(data.get("out_trade_no", "")) or next(
                (o for o in self.orders.values() if o.get("transaction_id") == data.get("transaction_id")), None)
            if order is None or order["trade_state"] not in {"SUCCESS", "REFUND"}:
                return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
            amount = data.get("amount") or {}
            if amount.get("total") != order["amount"]["total"] or amount.get("refund", 0) > amount.get("total", 0):
                return self._error(400, "INVALID_REQUEST", "退款金额不正确")
            refund = {"refund_id": "5030" + secrets.token_hex(12)[:24], "out_refund_no": data["out_refund_no"],
                      "transaction_id": order["transaction_id"], "out_trade_no": order["out_trade_no"],
                      "status": "PROCESSING", "create_time": _now().isoformat(),
                      "amount": {"total": amount["total"], "refund": amount["refund"], "currency": "CNY"},
                      "_request": data}
            self.refunds[data["out_refund_no"]] = refund
            order["trade_state"] = "REFUND"
            return self._answer(200, self._public(refund))
        if method == "GET" and route == "/v3/vehicle/parking/services/find":
            plate = query.get("plate_number", "")
            if query.get("appid") != self.app_id or not query.get("openid") or not query.get("plate_color"):
                return self._error(400, "PARAM_ERROR", "参数错误")
            state = "NORMAL" if plate in self.agreed else "OUT_SERVICE"
            return self._answer(200, {"plate_number": plate, "plate_color": query["plate_color"],
                                      "openid": query["openid"], "service_state": state})
        if method == "POST" and route == "/v3/vehicle/parking/parkings":
            if data.get("plate_number") not in self.agreed:
                return self._answer(200, {"id": "", "state": "BLOCKED", "block_reason": "OUT_SERVICE",
                                          **{k: data.get(k) for k in ("out_parking_no", "plate_number")}})
            parking_id = "5K8264ILTKCH16CQ" + secrets.token_hex(4).upper()
            self.parkings[parking_id] = data
            return self._answer(200, {"id": parking_id, "out_parking_no": data["out_parking_no"],
                                      "plate_number": data["plate_number"], "plate_color": data["plate_color"],
                                      "start_time": data["start_time"], "parking_name": data["parking_name"],
                                      "free_duration": data["free_duration"], "state": "NORMAL"})
        if method == "POST" and route == "/v3/vehicle/transactions/parking":
            info = data.get("parking_info") or {}
            if info.get("parking_id") not in self.parkings or data.get("appid") != self.app_id:
                return self._error(400, "PARAM_ERROR", "停车入场id不存在")
            if info.get("plate_number") not in self.agreed:
                return self._error(403, "NO_AUTH", "用户未开通车主服务")
            no = data["out_trade_no"]
            self.orders[no] = {"appid": self.app_id, "mchid": self.mch_id, "out_trade_no": no,
                               "trade_state": "ACCEPTED", "description": data["description"],
                               "amount": {"total": data["amount"]["total"], "currency": "CNY"},
                               "parking_info": info, "_parking": True, "_request": data}
            return self._answer(200, self._public(self.orders[no]))
        match = re.fullmatch(r"/v3/vehicle/transactions/out-trade-no/([^/]+)", route)
        if method == "GET" and match:
            order = self.orders.get(unquote(match.group(1)))
            if order is None or not order.get("_parking"):
                return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
            return self._answer(200, self._public(order))
        return self._error(404, "NOT_FOUND", f"no route {method} {route}")

    def trade_bill(self) -> str:
        """The day's trade bill as WeChat issues it (every field after a backtick)."""
        header = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
                  "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
                  "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
        lines = [header]
        when = _now().strftime("%Y-%m-%d %H:%M:%S")
        paid = 0
        for order in self.orders.values():
            if order["trade_state"] not in {"SUCCESS", "REFUND"}:
                continue
            paid += order["amount"]["total"]
            total = _yuan(order["amount"]["total"])
            fields = [when, self.app_id, self.mch_id, "0", "", order["transaction_id"], order["out_trade_no"],
                      "oUpF8uMuAJO", order.get("_trade_type", "JSAPI"), "SUCCESS", "OTHERS", "CNY", total, "0.00",
                      "0", "0", "0.00", "0.00", "", "", "停车费", "", "0.00000", "0.60%", total, "0.00", ""]
            lines.append(",".join("`" + f for f in fields))
        refunded = 0
        for refund in self.refunds.values():
            refunded += refund["amount"]["refund"]
            amount = _yuan(refund["amount"]["refund"])
            fields = [when, self.app_id, self.mch_id, "0", "", refund["transaction_id"], refund["out_trade_no"],
                      "oUpF8uMuAJO", "JSAPI", "REFUND", "OTHERS", "CNY", "0.00", "0.00", refund["refund_id"],
                      refund["out_refund_no"], amount, "0.00", "ORIGINAL", "SUCCESS", "停车费", "", "0.00000",
                      "0.60%", "0.00", amount, ""]
            lines.append(",".join("`" + f for f in fields))
        lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
        lines.append(",".join("`" + f for f in [str(len(lines) - 2), _yuan(paid), _yuan(refunded), "0.00",
                                                 "0.00000", _yuan(paid), _yuan(refunded)]))
        return "\r\n".join(lines) + "\r\n"


def _yuan(amount_fen: int) -> str:
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


# --- Alipay (openapi gateway.do, RSA2) ------------------------------------------------------------------
class AlipayGateway(FakeGateway):
    """Alipay's ``gateway.do``: requests are GETs whose query is signed with the app key (RSA2);
    answers are ``{"<method>_response": {...}, "sign": "..."}`` signed with the Alipay key."""

    def __init__(self) -> None:
        super().__init__()
        self.app = KeyPair()  # ours
        self.alipay = KeyPair()  # Alipay's
        self.app_id = "2021000000000001"
        self.seller_id = "2088000000000001"
        self.trades: dict[str, dict[str, Any]] = {}
        self.agreements: dict[str, str] = {}  # agreement_no → status
        self.answer_key: KeyPair | None = None

    @property
    def gateway(self) -> str:
        return f"{self.url}/gateway.do"

    @property
    def settings(self) -> dict[str, str]:
        return {"ALIPAY_APP_ID": self.app_id, "ALIPAY_PRIVATE_KEY": self.app.private_pem,
                "ALIPAY_PUBLIC_KEY": self.alipay.public_pem, "ALIPAY_SELLER_ID": self.seller_id,
                "ALIPAY_API_BASE": self.gateway}

    @staticmethod
    def unsigned(params: dict[str, str], drop: tuple[str, ...] = ("sign", "sign_type")) -> bytes:
        """The string Alipay signs: sorted ``k=v`` joined by ``&``. A request's signature covers
        ``sign_type``; a notice's does not."""
        return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in drop).encode()

    def verify_request(self, query: str) -> dict[str, str] | None:
        """The request's parameters when the app key signed them, else ``None``."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        if params.get("sign_type") != "RSA2" or params.get("app_id") != self.app_id:
            return None
        if not self.app.verify(self.unsigned(params, drop=("sign",)), params.get("sign", "")):
            return None
        return params

    def pay(self, order_no: str, total_fen: int | None = None) -> dict[str, Any]:
        """The payer pays in the cashier page that ``pay_url`` opened."""
        trade = self.trades.setdefault(order_no, {"out_trade_no": order_no, "total_amount": _yuan(total_fen or 0)})
        trade.update(trade_status="TRADE_SUCCESS", trade_no="2026" + secrets.token_hex(12)[:24],
                     send_pay_date=_now().strftime("%Y-%m-%d %H:%M:%S"), buyer_user_id="2088102169481075")
        return trade

    def open_page(self, pay_url: str) -> dict[str, Any]:
        """What Alipay does when the payer's browser opens ``pay_url``: check the signature and
        record the trade as waiting for payment."""
        params = self.verify_request(urlsplit(pay_url).query)
        if params is None or params.get("method") != "alipay.trade.wap.pay":
            raise AssertionError("pay_url is not a signed alipay.trade.wap.pay request")
        biz = json.loads(params["biz_content"])
        self.trades.setdefault(biz["out_trade_no"], {"out_trade_no": biz["out_trade_no"],
                                                     "total_amount": biz["total_amount"],
                                                     "trade_status": "WAIT_BUYER_PAY", "trade_no": ""})
        return params

    def notice(self, order_no: str = "", *, fields: dict[str, str] | None = None, key: KeyPair | None = None,
               sign: bool = True) -> bytes:
        """A genuine ``trade_status_sync`` notice (form body) for a trade, or for ``fields``."""
        if fields is None:
            trade = self.trades[order_no]
            fields = {"notify_time": _now().strftime("%Y-%m-%d %H:%M:%S"), "notify_type": "trade_status_sync",
                      "notify_id": secrets.token_hex(16), "app_id": self.app_id, "charset": "utf-8",
                      "version": "1.0", "trade_no": trade["trade_no"], "out_trade_no": order_no,
                      "trade_status": trade["trade_status"], "total_amount": trade["total_amount"],
                      "receipt_amount": trade["total_amount"], "seller_id": self.seller_id,
                      "buyer_id": trade.get("buyer_user_id", ""), "gmt_create": trade.get("send_pay_date", ""),
                      "gmt_payment": trade.get("send_pay_date", ""), "subject": "停车费"}
        fields = dict(fields)
        if sign:
            fields["sign_type"] = "RSA2"
            fields["sign"] = (key or self.alipay).sign(self.unsigned(fields))
        return urlencode(fields).encode()

    def _answer(self, method: str, data: dict[str, Any]):
        inner = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        sign = (self.answer_key or self.alipay).sign(inner.encode())
        name = method.replace(".", "_") + "_response"
        return 200, {"Content-Type": "application/json;charset=utf-8"}, (
            f'{{"{name}":{inner},"sign":"{sign}"}}').encode()

    def handle(self, method, path, headers, body):
        url = urlsplit(path)
        if url.path != "/gateway.do":
            return 404, {}, b"not found"
        params = self.verify_request(url.query)
        if params is None:
            return 200, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(
                {"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature",
                                    "sub_msg": "验签出错"}}).encode()
        api = params["method"]
        biz = json.loads(params.get("biz_content") or "{}")
        not_exist = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                     "sub_msg": "交易不存在"}
        trade = self.trades.get(biz.get("out_trade_no", "")) or next(
            (t for t in self.trades.values() if biz.get("trade_no") and t.get("trade_no") == biz["trade_no"]), None)
        if api == "alipay.trade.query":
            if trade is None:
                return self._answer(api, not_exist)
            return self._answer(api, {"code": "10000", "msg": "Success",
                                      **{k: v for k, v in trade.items() if not k.startswith("_")}})
        if api == "alipay.trade.close":
            if trade is None:
                return self._answer(api, not_exist)
            if trade["trade_status"] != "WAIT_BUYER_PAY":
                return self._answer(api, {"code": "40004", "msg": "Business Failed",
                                          "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"})
            trade["trade_status"] = "TRADE_CLOSED"
            return self._answer(api, {"code": "10000", "msg": "Success", "out_trade_no": trade["out_trade_no"],
                                      "trade_no": trade["trade_no"]})
        if api == "alipay.trade.refund":
            if trade is None or trade["trade_status"] != "TRADE_SUCCESS":
                return self._answer(api, {"code": "40004", "msg": "Business Failed",
                                          "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"})
            refunded = trade.get("_refunded", 0) + _fen(biz["refund_amount"])
            if refunded > _fen(trade["total_amount"]):
                return self._answer(api, {"code": "40004", "msg": "Business Failed",
                                          "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "sub_msg": "退款金额超限"})
            trade["_refunded"] = refunded
            trade.setdefault("_refunds", []).append(biz)
            return self._answer(api, {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"],
                                      "out_trade_no": trade["out_trade_no"], "fund_change": "Y",
                                      "refund_fee": _yuan(refunded), "gmt_refund_pay": _now().strftime(
                                          "%Y-%m-%d %H:%M:%S")})
        if api == "alipay.trade.pay":
            agreement = (biz.get("agreement_params") or {}).get("agreement_no", "")
            if biz.get("product_code") != "GENERAL_WITHHOLDING" or self.agreements.get(agreement) != "NORMAL":
                return self._answer(api, {"code": "40004", "msg": "Business Failed",
                                          "sub_code": "ACQ.AGREEMENT_INVALID", "sub_msg": "协议无效"})
            trade = {"out_trade_no": biz["out_trade_no"], "total_amount": biz["total_amount"],
                     "trade_status": "TRADE_SUCCESS", "trade_no": "2026" + secrets.token_hex(12)[:24],
                     "send_pay_date": _now().strftime("%Y-%m-%d %H:%M:%S"), "buyer_user_id": "2088102169481075"}
            self.trades[biz["out_trade_no"]] = trade
            return self._answer(api, {"code": "10000", "msg": "Success", "trade_no": trade["trade_no"],
                                      "out_trade_no": trade["out_trade_no"], "total_amount": trade["total_amount"],
                                      "gmt_payment": trade["send_pay_date"], "buyer_user_id": "2088102169481075"})
        if api == "alipay.user.agreement.query":
            status = self.agreements.get(biz.get("agreement_no", ""))
            if status is None:
                return self._answer(api, {"code": "40004", "msg": "Business Failed",
                                          "sub_code": "USER_AGREEMENT_NOT_EXIST", "sub_msg": "协议不存在"})
            return self._answer(api, {"code": "10000", "msg": "Success", "agreement_no": biz["agreement_no"],
                                      "status": status})
        return self._answer(api, {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"})

    def statement(self) -> bytes:
        """The 业务明细 download as Alipay gives it: GBK, ``#`` header and footer lines."""
        lines = ["#支付宝业务明细查询", f"#账号：[{self.seller_id}0156]",
                 "#起始日期：[2026年12月01日 00:00:00]   终止日期：[2026年12月02日 00:00:00]",
                 "#-----------------------------------------业务明细列表----------------------------------------",
                 "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
                 "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
                 "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"]
        count = 0
        for trade in self.trades.values():
            if trade["trade_status"] != "TRADE_SUCCESS":
                continue
            count += 1
            at = trade["send_pay_date"]
            lines.append(f"{trade['trade_no']}\t,{trade['out_trade_no']}\t,交易      ,停车费 ,{at},{at},,,,,"
                         f"张*(185****1234),{trade['total_amount']},{trade['total_amount']},0.00,0.00,0.00,0.00,"
                         f"0.00,,0.00,0.00,,0.00,0.00,")
            for refund in trade.get("_refunds", []):
                amount = "-" + refund["refund_amount"]
                lines.append(f"{trade['trade_no']}\t,{trade['out_trade_no']}\t,退款      ,停车费 ,{at},{at},,,,,"
                             f"张*(185****1234),{amount},{amount},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,"
                             f"{refund['out_request_no']}\t,0.00,0.00,")
        lines += ["#-----------------------------------------业务明细列表结束------------------------------------",
                  f"#交易合计：{count}笔，商家实收共0.00元，商家优惠共0.00元，服务费共0.00元",
                  "#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元，服务费共0.00元",
                  "#导出时间：[2026年12月02日 09:00:00]"]
        return ("\r\n".join(lines) + "\r\n").encode("gbk")


def _fen(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


# --- UnionPay 全渠道 (5.1.0, signMethod 01) --------------------------------------------------------------
def unionpay_sign(key: KeyPair, fields: dict[str, str]) -> str:
    """Base64 SHA256withRSA over the hex SHA-256 of the sorted ``key=value&…`` string."""
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "signature")
    return key.sign(hashlib.sha256(text.encode()).hexdigest().encode())


class UnionPayGateway(FakeGateway):
    def __init__(self) -> None:
        super().__init__()
        self.merchant = KeyPair()  # ours (the signing certificate's key)
        self.unionpay = KeyPair()  # UnionPay's verification key
        self.mer_id = "777290058110048"
        self.cert_id = "69629715588"
        self.trades: dict[str, dict[str, str]] = {}  # orderId → fields of the consume
        self.refunds: dict[str, dict[str, str]] = {}
        self.answer_key: KeyPair | None = None

    @property
    def settings(self) -> dict[str, str]:
        return {"UNIONPAY_MER_ID": self.mer_id, "UNIONPAY_SIGN_KEY": self.merchant.private_pem,
                "UNIONPAY_SIGN_CERT_ID": self.cert_id, "UNIONPAY_VERIFY_KEY": self.unionpay.public_pem,
                "UNIONPAY_API_BASE": self.url}

    def verify_request(self, fields: dict[str, str]) -> bool:
        text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if k != "signature")
        return (fields.get("certId") == self.cert_id and fields.get("merId") == self.mer_id
                and fields.get("signMethod") == "01"
                and self.merchant.verify(hashlib.sha256(text.encode()).hexdigest().encode(),
                                         fields.get("signature", "")))

    def open_page(self, pay: dict[str, Any]) -> dict[str, str]:
        """The payer's browser posts the front form: UnionPay checks it and records the order."""
        fields = dict(parse_qsl(urlsplit(pay["pay_url"]).query, keep_blank_values=True))
        if fields != pay["form"]["fields"] or not self.verify_request(fields):
            raise AssertionError("the front form is not signed by our certificate")
        self.trades[fields["orderId"]] = dict(fields)
        return fields

    def pay(self, order_no: str, resp_code: str = "00") -> dict[str, str]:
        trade = self.trades[order_no]
        trade.update(respCode=resp_code, queryId=secrets.token_hex(10)[:21].upper(),
                     traceTime=_now().strftime("%m%d%H%M%S"), settleDate=_now().strftime("%m%d"))
        return trade

    def notice(self, order_no: str = "", *, fields: dict[str, str] | None = None, key: KeyPair | None = None,
               sign: bool = True) -> bytes:
        if fields is None:
            trade = self.trades[order_no]
            fields = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "01",
                      "txnSubType": "01", "bizType": "000201", "accessType": "0", "merId": self.mer_id,
                      "orderId": order_no, "txnTime": trade["txnTime"], "txnAmt": trade["txnAmt"],
                      "currencyCode": "156", "queryId": trade["queryId"], "respCode": trade["respCode"],
                      "respMsg": "成功[0000000]", "traceNo": "123456", "traceTime": trade["traceTime"],
                      "settleAmt": trade["txnAmt"], "settleCurrencyCode": "156", "settleDate": trade["settleDate"],
                      "signPubKeyCert": "-----BEGIN CERTIFICATE-----\nMIIE…\n-----END CERTIFICATE-----"}
        fields = dict(fields)
        if sign:
            fields["signature"] = unionpay_sign(key or self.unionpay, fields)
        return urlencode(fields).encode()

    def _answer(self, fields: dict[str, str]):
        fields = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "merId": self.mer_id, **fields}
        fields["signature"] = unionpay_sign(self.answer_key or self.unionpay, fields)
        # UnionPay answers key=value&… without URL-encoding (braced values may hold '&').
        return 200, {"Content-Type": "text/plain;charset=UTF-8"}, "&".join(
            f"{k}={v}" for k, v in fields.items()).encode()

    def handle(self, method, path, headers, body):
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if not self.verify_request(fields):
            return self._answer({"respCode": "11", "respMsg": "验证签名失败"})
        route = urlsplit(path).path
        if route == "/gateway/api/queryTrans.do":
            trade = self.trades.get(fields.get("orderId", ""))
            if trade is None or trade["txnTime"] != fields.get("txnTime"):
                return self._answer({"respCode": "34", "respMsg": "查无此交易", "orderId": fields.get("orderId", "")})
            return self._answer({"respCode": "00", "respMsg": "成功", "orderId": trade["orderId"],
                                 "txnTime": trade["txnTime"], "txnAmt": trade["txnAmt"], "txnType": "01",
                                 "origRespCode": trade.get("respCode", "05"), "origRespMsg": "成功",
                                 "queryId": trade.get("queryId", ""), "traceTime": trade.get("traceTime", ""),
                                 "reserved": "{a=1&b=2}"})
        if route == "/gateway/api/backTransReq.do" and fields.get("txnType") == "04":
            trade = next((t for t in self.trades.values() if t.get("queryId") == fields.get("origQryId")), None)
            if trade is None or trade.get("respCode") != "00":
                return self._answer({"respCode": "35", "respMsg": "原交易不存在或状态不正确",
                                     "orderId": fields.get("orderId", "")})
            if int(fields["txnAmt"]) > int(trade["txnAmt"]):
                return self._answer({"respCode": "12", "respMsg": "退货金额超限", "orderId": fields["orderId"]})
            refund = dict(fields, queryId=secrets.token_hex(10)[:21].upper())
            self.refunds[fields["orderId"]] = refund
            return self._answer({"respCode": "00", "respMsg": "成功[0000000]", "orderId": fields["orderId"],
                                 "origQryId": fields["origQryId"], "queryId": refund["queryId"],
                                 "txnAmt": fields["txnAmt"], "txnType": "04", "txnTime": fields["txnTime"]})
        return self._answer({"respCode": "10", "respMsg": "报文格式错误"})


# --- ETC (the issuer's charging API; wire format in apps/payments/providers/etc.py) -------------------------
class EtcGateway(FakeGateway):
    def __init__(self) -> None:
        super().__init__()
        self.merchant_id = "ETC32020001"
        self.key = secrets.token_hex(32)
        self.accounts: dict[str, str] = {}  # plate → NORMAL | SUSPENDED
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.answer_key: str | None = None
        self.settle_at_once = False  # answer SUCCESS rather than ACCEPTED

    @property
    def settings(self) -> dict[str, str]:
        return {"ETC_MERCHANT_ID": self.merchant_id, "ETC_KEY": self.key, "ETC_API_BASE": self.url}

    def mac(self, text: str, key: str | None = None) -> str:
        return hmac.new((key or self.key).encode(), text.encode(), hashlib.sha256).hexdigest()

    def sign_headers(self, body: str, *, key: str | None = None, timestamp: int | None = None,
                     merchant: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = uuid.uuid4().hex
        return {"X-ETC-Merchant": self.merchant_id if merchant is None else merchant, "X-ETC-Timestamp": ts,
                "X-ETC-Nonce": nonce, "X-ETC-Signature": self.mac(f"{ts}\n{nonce}\n{body}", key)}

    def settle(self, order_no: str, ok: bool = True) -> dict[str, Any]:
        charge = self.charges[order_no]
        if ok:
            charge.update(state="SUCCESS", transaction_id="ETC" + secrets.token_hex(10).upper(),
                          paid_at=_now().isoformat())
        else:
            charge.update(state="FAILED", fail_reason="INSUFFICIENT_BALANCE")
        return charge

    def notice(self, order_no: str = "", *, event: str = "", data: dict[str, Any] | None = None,
               **sign: Any) -> tuple[dict[str, str], bytes]:
        if data is None:
            data = self.charges[order_no]
            event = event or ("charge.succeeded" if data["state"] == "SUCCESS" else "charge.failed")
        body = json.dumps({"id": uuid.uuid4().hex, "event": event, "data": data}, ensure_ascii=False)
        return self.sign_headers(body, **sign), body.encode()

    def _answer(self, status: int, data: dict[str, Any]):
        body = json.dumps(data, ensure_ascii=False)
        headers = {"Content-Type": "application/json"}
        headers.update(self.sign_headers(body, key=self.answer_key))
        return status, headers, body.encode()

    def handle(self, method, path, headers, body):
        text = body.decode()
        ts, nonce = headers.get("X-ETC-Timestamp", "0"), headers.get("X-ETC-Nonce", "")
        expected = self.mac(f"{method}\n{path}\n{ts}\n{nonce}\n{text}")
        if (headers.get("X-ETC-Merchant") != self.merchant_id or abs(time.time() - int(ts)) > 300
                or not hmac.compare_digest(expected, headers.get("X-ETC-Signature", ""))):
            return self._answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        data = json.loads(text) if text else {}
        route = urlsplit(path).path
        if method == "POST" and route == "/v1/charges":
            if self.accounts.get(data.get("plate")) != "NORMAL":
                return self._answer(403, {"code": "ACCOUNT_UNAVAILABLE", "message": "ETC账户不可用"})
            if data.get("merchant_id") != self.merchant_id:
                return self._answer(400, {"code": "PARAM_ERROR", "message": "merchant_id"})
            charge = {"merchant_id": self.merchant_id, "out_trade_no": data["out_trade_no"], "plate": data["plate"],
                      "amount_fen": data["amount_fen"], "state": "ACCEPTED", "transaction_id": "", "paid_at": None,
                      "_request": data}
            self.charges[data["out_trade_no"]] = charge
            if self.settle_at_once:
                self.settle(data["out_trade_no"])
            return self._answer(200, {k: v for k, v in charge.items() if not k.startswith("_")})
        match = re.fullmatch(r"/v1/charges/([^/]+)(/cancel)?", route)
        if match:
            charge = self.charges.get(unquote(match.group(1)))
            if charge is None:
                return self._answer(404, {"code": "NOT_FOUND", "message": "扣费不存在"})
            if match.group(2):
                if charge["state"] == "SUCCESS":
                    return self._answer(409, {"code": "ALREADY_PAID", "message": "已扣费"})
                charge["state"] = "CANCELLED"
            return self._answer(200, {k: v for k, v in charge.items() if not k.startswith("_")})
        if method == "POST" and route == "/v1/refunds":
            charge = self.charges.get(data.get("out_trade_no", ""))
            if charge is None or charge["state"] != "SUCCESS" or data["amount_fen"] > charge["amount_fen"]:
                return self._answer(409, {"code": "REFUND_NOT_ALLOWED", "message": "不可退款"})
            refund = {"out_refund_no": data["out_refund_no"], "refund_id": "ETCR" + secrets.token_hex(8).upper(),
                      "state": "SUCCESS", "amount_fen": data["amount_fen"]}
            self.refunds[data["out_refund_no"]] = refund
            return self._answer(200, refund)
        match = re.fullmatch(r"/v1/accounts/([^/]+)", route)
        if method == "GET" and match:
            plate = unquote(match.group(1))
            return self._answer(200, {"plate": plate, "state": self.accounts.get(plate, "NONE")})
        return self._answer(404, {"code": "NOT_FOUND", "message": route})


# --- fixtures: each fake running, with Django's settings pointed at it ---------------------------------
def _running(gateway_class: type[FakeGateway], settings: Any):
    with gateway_class() as gateway:
        for name, value in gateway.settings.items():  # type: ignore[attr-defined]
            setattr(settings, name, value)
        yield gateway


@pytest.fixture
def wechat_gw(settings):
    yield from _running(WeChatGateway, settings)


@pytest.fixture
def alipay_gw(settings):
    yield from _running(AlipayGateway, settings)


@pytest.fixture
def unionpay_gw(settings):
    yield from _running(UnionPayGateway, settings)


@pytest.fixture
def etc_gw(settings):
    yield from _running(EtcGateway, settings)

