"""The supervision rules: their codes, names and what each one's threshold columns mean.

The numbers themselves are rows staff edit (``SupervisionRule``), seeded by the analytics migration
``0002_supervision``; this module only says how each rule reads them, for the detectors, the admin
and docs/supervision.md."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

OUTAGE = "outage"
OUTAGE_REPEATED = "outage_repeated"
SILENT = "silent"
COUNT_DRIFT = "count_drift"
OVER_CAPACITY = "over_capacity"
ORPHAN_EXITS = "orphan_exits"
UNCLOSED_ENTRIES = "unclosed_entries"
FROZEN_FREE = "frozen_free"

CODES = (
    (OUTAGE, _("长时间断网")),
    (OUTAGE_REPEATED, _("频繁断网")),
    (SILENT, _("有心跳无数据")),
    (COUNT_DRIFT, _("进出与余位快照不符")),
    (OVER_CAPACITY, _("在场车辆超过总泊位")),
    (ORPHAN_EXITS, _("无入场记录的出场过多")),
    (UNCLOSED_ENTRIES, _("入场长期未闭合")),
    (FROZEN_FREE, _("余位长期不变")),
)

#: what each column means for each rule (None: the rule does not read it), for the admin's help
MEANINGS: dict[str, dict[str, object]] = {
    OUTAGE: {
        "window_minutes": _("离线持续超过（分钟）"),
    },
    OUTAGE_REPEATED: {
        "window_minutes": _("统计时段（分钟）"),
        "threshold": _("时段内离线次数达到"),
    },
    SILENT: {
        "window_minutes": _("在线但无进出事件持续（分钟）"),
        "threshold": _("该时段历史平均每小时进出车次不少于"),
        "minimum": _("该时段至少有几小时历史数据"),
        "history_days": _("历史回看天数"),
    },
    COUNT_DRIFT: {
        "window_minutes": _("比较时段（分钟）"),
        "threshold": _("允许偏差（泊位）"),
        "ratio": _("允许偏差占总泊位比例（取两者较大）"),
        "minimum": _("时段内余位快照至少几个"),
    },
    OVER_CAPACITY: {
        "threshold": _("超出总泊位的容差（辆）"),
        "ratio": _("超出总泊位的容差比例（取两者较大）"),
    },
    ORPHAN_EXITS: {
        "window_minutes": _("统计时段（分钟）"),
        "ratio": _("无入场出场占比达到"),
        "minimum": _("时段内出场至少几次"),
    },
    UNCLOSED_ENTRIES: {
        "window_minutes": _("入场后未出场超过（分钟）"),
        "threshold": _("此类在场记录至少几条"),
        "ratio": _("此类记录占总泊位比例达到（两者都须满足）"),
    },
    FROZEN_FREE: {
        "window_minutes": _("观察时段（分钟）"),
        "threshold": _("时段内余位最大变化不超过"),
        "minimum": _("时段内在线采样至少几个"),
    },
}

PARAMETERS = ("window_minutes", "threshold", "ratio", "minimum", "history_days")


def label(code: str) -> str:
    return str(dict(CODES).get(code, code))
