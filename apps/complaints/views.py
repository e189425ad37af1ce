"""The citizen's web form and follow-up page (no login; the API does the work)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.lots.models import LOT_CODE_VALIDATOR

from . import workflow
from .selectors import categories_active


def _states() -> dict[str, str]:
    return {code: str(label) for code, label in workflow.STATES}


def _texts() -> dict[str, str]:
    """What the pages' script says, translated here (the script itself holds no text)."""
    return {
        "failed": _("提交失败，请稍后再试"), "no_geolocation": _("此浏览器无法定位"), "locating": _("定位中…"),
        "located": _("已附上位置"), "not_located": _("未能获取位置"),
        "unassigned": _("待派单"), "pick_score": _("请选择评分"),
    }


@require_GET
def form_page(request):
    lot = (request.GET.get("lot") or "").strip().upper()
    if not LOT_CODE_VALIDATOR.regex.match(lot):
        lot = ""
    return render(request, "complaints/form.html", {"categories": categories_active(), "lot": lot,
                                                         "states": _states(), "texts": _texts()})


@require_GET
def track_page(request):
    ticket_no = (request.GET.get("no") or "").strip().upper()[:20]
    return render(request, "complaints/track.html", {"ticket_no": ticket_no, "states": _states(), "texts": _texts()})
