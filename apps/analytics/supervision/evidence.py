"""A case's evidence as staff read it: each number with its Chinese name, times on the city's
clock (Asia/Shanghai), shares as percentages."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import rules

LABELS = {
    "outage_id": _("离线记录编号"),
    "offline_since": _("离线开始"),
    "offline_minutes": _("已离线（分钟）"),
    "outages": _("离线次数"),
    "first_started_at": _("首次离线"),
    "last_started_at": _("最近离线"),
    "normal_moves_per_hour": _("历史同时段平均每小时进出（车次）"),
    "history_hours": _("历史同时段小时数"),
    "hour_of_day": _("时段（点）"),
    "moves_in_window": _("时段内进出事件"),
    "silent_since": _("无进出事件起始"),
    "events_in_window": _("时段内其他上报（心跳等）"),
    "devices_heard": _("在线设备数"),
    "last_seen_at": _("最近上报"),
    "first_snapshot_at": _("首个余位快照时间"),
    "first_free": _("首个快照余位"),
    "last_snapshot_at": _("最后余位快照时间"),
    "last_free": _("最后快照余位"),
    "snapshots": _("余位快照数"),
    "entries": _("入场"),
    "exits": _("出场"),
    "reported_change": _("快照显示占用变化"),
    "counted_change": _("进出计算占用变化"),
    "drift": _("偏差（泊位）"),
    "tolerance": _("容差"),
    "total_berths": _("总泊位"),
    "vehicles_inside": _("在场车辆"),
    "excess": _("超出（辆）"),
    "exits_without_entry": _("无入场记录的出场"),
    "share": _("占比"),
    "open_stays": _("长期未出场记录"),
    "oldest_entry_at": _("最早入场"),
    "entered_before": _("入场早于"),
    "samples": _("在线采样数"),
    "free_min": _("最低余位"),
    "free_max": _("最高余位"),
    "first_sample_at": _("首次采样"),
    "last_sample_at": _("最近采样"),
}

PERCENT_KEYS = frozenset({"share", "ratio"})


def value_text(key: str, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str) and (key.endswith("_at") or key.endswith("_since")):
        try:
            return timezone.localtime(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return value
    if key in PERCENT_KEYS and isinstance(value, (int, float)):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def rows(evidence: dict) -> list[tuple[str, str]]:
    """(label, value) pairs: when it was found and ended, the numbers, then the thresholds in force."""
    evidence = evidence or {}
    code = evidence.get("rule", "")
    out = [(str(_("发现时间")), value_text("detected_at", evidence.get("detected_at"))),
           (str(_("问题消除时间")), value_text("resolved_at", evidence["resolved_at"])
            if evidence.get("resolved_at") else str(_("仍在持续")))]
    for key, value in (evidence.get("numbers") or {}).items():
        out.append((str(LABELS.get(key, key)), value_text(key, value)))
    meanings = rules.MEANINGS.get(code, {})
    for key, value in (evidence.get("thresholds") or {}).items():
        out.append((str(_("阈值：")) + str(meanings.get(key, key)), value_text(key, value)))
    return out
