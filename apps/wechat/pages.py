"""The citizen's pages (我的, issue 10 item 6): mobile, Chinese, made for WeChat's in-app browser.
The page is static HTML and a script that reads and writes through the citizen API (SPEC §8), so
the page and the mini program see exactly the same data and rules."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from .links import MAP, ME, RESERVATIONS


def _page_text() -> dict[str, str]:
    """Strings me.js shows, translated here so the page has one catalogue."""
    return {
        "loading": _("正在加载…"),
        "failed": _("加载失败，请稍后重试"),
        "noPlates": _("还没有绑定车牌"),
        "unbind": _("解绑"),
        "unbindConfirm": _("确定解绑 %(plate)s？"),
        "bound": _("已绑定 %(plate)s"),
        "unbound": _("已解绑 %(plate)s"),
        "noCurrent": _("绑定的车辆目前都不在停车场内"),
        "noPast": _("近 90 天没有停车记录"),
        "noArrears": _("没有欠费"),
        "berth": _("泊位 %(berth)s"),
        "entry": _("入场 %(at)s"),
        "exit": _("离场 %(at)s"),
        "feeSoFar": _("当前费用 %(fee)s"),
        "fee": _("费用 %(fee)s"),
        "feeUnknown": _("费用暂无法计算"),
        "navigate": _("导航到车辆所在停车场"),
        "pay": _("去缴费"),
        "owed": _("欠费 %(fee)s"),
        "noBookings": _("没有预约"),
        "bookingCode": _("预约码 %(code)s"),
        "arriveWindow": _("请于 %(from)s – %(until)s 到达"),
        "bookingStates": {"booked": _("已预约"), "arrived": _("已到达"), "completed": _("已完成"),
                          "cancelled": _("已取消"), "no_show": _("爽约")},
        "noOrders": _("没有缴费记录"),
        "orderNo": _("订单号 %(no)s"),
        "paidAt": _("支付于 %(at)s"),
        "orderStates": {"created": _("待支付"), "paid": _("已支付"), "partially_refunded": _("部分退款"),
                        "refunded": _("已退款"), "closed": _("已关闭")},
        "noAgreements": _("尚未开通无感支付"),
        "agreementStates": {"active": _("生效"), "suspended": _("暂停"), "terminated": _("已解约")},
        "signedAt": _("签约于 %(at)s"),
        "endAgreement": _("解约"),
        "endConfirm": _("确定解约 %(plate)s 的无感支付？"),
        "signed": _("已为 %(plate)s 开通无感支付"),
        "ended": _("已解约 %(plate)s 的无感支付"),
        "noChannels": _("暂无可开通无感支付的渠道"),
        "bindFirst": _("请先绑定车牌"),
        "noComplaints": _("没有投诉记录"),
        "ticketNo": _("工单号 %(no)s"),
        "resolveBy": _("办结时限 %(at)s"),
        "track": _("查看办理进度"),
    }


@require_GET
@ensure_csrf_cookie
def me_page(request):
    if not request.user.is_authenticated:
        inside_wechat = "MicroMessenger" in request.headers.get("User-Agent", "")
        if inside_wechat and settings.WECHAT_APP_ID:
            return HttpResponseRedirect(reverse("wechat:oauth-start") + "?" + urlencode({"next": ME}))
        return render(request, "wechat/me.html", {"signed_in": False, "map_url": MAP})
    return render(request, "wechat/me.html", {
        "signed_in": True, "map_url": MAP, "text": _page_text(), "reservations_url": RESERVATIONS,
        "hotline_url": reverse("complaints:form"), "hotline_track_url": reverse("complaints:track")})
