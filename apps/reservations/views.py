"""The citizen pages (mobile, inside WeChat): book a slot, show the code at the gate, my bookings,
off-peak sharing with one tap. Static files only; everything they show comes from SPEC §8.3's API."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from apps.common.citizens import bound_plates

from .models import SharingApplication


def _page_text() -> dict[str, str]:
    """Strings reservations.js shows, translated here so the page has one catalogue."""
    return {
        "loading": _("加载中…"), "loadFailed": _("加载失败，请稍后重试"), "remaining": _("余"),
        "full": _("已约满"), "book": _("预约"), "booked": _("预约成功"), "code": _("预约码"),
        "showAtGate": _("入场时出示此码，或直接按车牌识别入场"), "arrive": _("请在此时间内到达"),
        "cancel": _("取消预约"), "cancelled": _("已取消"), "confirmCancel": _("确定取消这个预约吗？"),
        "noSlots": _("近期没有可预约的时段"), "noReservations": _("还没有预约"), "choosePlate": _("车牌"),
        "noPlates": _("请先在“无锡停车”公众号绑定车牌"), "login": _("请在微信中打开并登录后预约"),
        "state_booked": _("已预约"), "state_arrived": _("已到达"), "state_completed": _("已完成"),
        "state_cancelled": _("已取消"), "state_no_show": _("爽约"), "waives": _("预约就诊免停车费"),
        "suspended": _("因爽约次数过多，您在以下地点暂停预约至"), "apply": _("一键签约"),
        "applied": _("申请已提交，等待审核"), "perMonth": _("元/月"), "weekday": _("工作日"),
        "weekend": _("周末"), "address": _("住址"), "noOffers": _("暂无错时共享泊位"),
        "contracts": _("我的共享"), "berthKind_standard": _("普通泊位"), "berthKind_accessible": _("无障碍泊位"),
        "berthKind_ev": _("充电泊位"), "noShowRule": _("爽约规则"), "times": _("次"), "days": _("天"),
        "evFree": _("充停一体化：预约充电泊位，到达后 {minutes} 分钟内停车免费"),
    }


@require_GET
@ensure_csrf_cookie
def reservations_page(request):
    """Hospitals first, then the lots that book their accessible or EV berths."""
    user = request.user if request.user.is_authenticated else None
    last = (SharingApplication.objects.filter(user=user).order_by("-created_at").values_list("address", flat=True)
            .first() if user else None)
    config = {
        "loggedIn": user is not None,
        "plates": bound_plates(user),
        "address": last or "",
        # SPEC §8.3 paths are part of the contract, so the page names them as the spec does.
        "hospitalsUrl": "/api/v1/reservations/hospitals/",
        "bookUrl": "/api/v1/reservations/",
        "reservationUrl": "/api/v1/reservations/{id}",
        "mineUrl": "/api/v1/me/reservations",
        "suspensionsUrl": "/api/v1/me/booking-suspensions",
        "offersUrl": "/api/v1/sharing/offers",
        "applyUrl": "/api/v1/sharing/applications",
        "mySharingUrl": "/api/v1/me/sharing",
        "text": _page_text(),
    }
    return render(request, "reservations/page.html", {"page_config": config})
