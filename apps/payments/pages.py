"""The pages a payer sees: the lot's pay page (``/pay/<lot code>/``, mobile, inside WeChat or any
phone browser), the sandbox cashier, and a Native order's QR code."""

from __future__ import annotations

from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods

from apps.common.citizens import bound_plates
from apps.lots.models import LOT_CODE_VALIDATOR, ParkingLot

from . import paycode, providers, sandbox
from .models import Order, SandboxTrade


def _page_text() -> dict[str, str]:
    """Strings pay.js shows, translated here so the page has one catalogue."""
    return {
        "enterPlate": _("请输入车牌号"),
        "invalidPlate": _("车牌号格式不正确"),
        "querying": _("正在查询…"),
        "nothingDue": _("该车牌在本停车场暂无待缴费用"),
        "queryFailed": _("查询失败，请稍后重试"),
        "entryAt": _("入场时间"),
        "exitAt": _("出场时间"),
        "inLot": _("在场中，费用计到现在"),
        "duration": _("已停"),
        "amount": _("应收"),
        "paid": _("已缴"),
        "due": _("待缴"),
        "yuan": _("元"),
        "hours": _("小时"),
        "minutes": _("分钟"),
        "pay": _("立即支付"),
        "paying": _("正在创建订单…"),
        "orderFailed": _("下单失败"),
        "waiting": _("正在确认支付结果…"),
        "paidTitle": _("支付成功"),
        "closedTitle": _("订单已关闭"),
        "orderNo": _("订单号"),
        "paidAt": _("支付时间"),
        "plate": _("车牌"),
        "graceHint": _("请在 %(minutes)s 分钟内离场，出口将自动抬杆") % {"minutes": "{minutes}"},
        "again": _("继续缴费"),
        "scanNative": _("请使用微信扫一扫下方二维码完成支付"),
        "cancel": _("取消订单"),
        "recent": _("最近使用"),
        "noChannel": _("暂无可用的支付方式"),
    }


def _lot_or_404(code: str) -> ParkingLot:
    code = code.strip().upper()
    lot = ParkingLot.objects.filter(code=code).first() if LOT_CODE_VALIDATOR.regex.fullmatch(code) else None
    if lot is None:
        raise Http404("no such lot")
    return lot


@require_GET
@ensure_csrf_cookie  # a logged-in citizen's order POST carries the token pay.js reads from the cookie
def pay_page(request, code: str):
    lot = _lot_or_404(code)
    berth = (request.GET.get("berth") or "").strip()[:32]
    if berth and not lot.berths.filter(code=berth).exists():
        berth = ""
    channels = [{"code": c, "name": _(providers.get(c).name)} for c in providers.citizen_channels()]
    config = {
        "lot": lot.code,
        "berth": berth or None,
        "graceMinutes": lot.grace_minutes,
        "channels": channels,
        "plates": bound_plates(request.user),
        "dueUrl": "/api/v1/pay/due",
        "ordersUrl": "/api/v1/payments/orders",
        "text": _page_text(),
    }
    return render(request, "payments/pay.html", {"lot": lot, "berth": berth, "config": config})


@require_GET
def order_qr(request, order_no: str):
    """The Native order's ``code_url`` as a QR code, for a payer outside the wallet's app."""
    order = Order.objects.filter(order_no=order_no[:32], state=Order.State.CREATED).only("pay").first()
    url = (order.pay or {}).get("code_url") if order is not None else None
    if not url:
        raise Http404("no code for this order")
    return HttpResponse(paycode.qr_svg(url, scale=6), content_type="image/svg+xml")


@require_http_methods(["GET", "POST"])
def sandbox_cashier(request, order_no: str):
    """The sandbox's cashier page: the amount and a pay button. Paying sends the gateway's signed
    notice to our callback, as a wallet would."""
    if not providers.get("sandbox").is_configured():
        raise Http404("the sandbox is off")
    trade = SandboxTrade.objects.filter(order_no=order_no[:32]).first()
    if trade is None:
        raise Http404("no such trade")
    error = ""
    if request.method == "POST":
        try:
            trade = sandbox.trade_pay(trade.order_no)
        except sandbox.TradeRefused:
            error = _("该订单已关闭或已过期，无法支付")
        else:
            if trade.return_url:
                return HttpResponseRedirect(trade.return_url)
    expired = trade.state == SandboxTrade.State.PENDING and trade.expires_at <= timezone.now()
    return render(request, "payments/sandbox_cashier.html", {
        "trade": trade, "error": error, "expired": expired, "yuan": f"{trade.amount_fen / 100:.2f}"})

