"""The demo city's hotline: a few dozen tickets in every state, some overdue and escalated, so the
supervision views have something to show. Made through the hotline's services, as real ones are."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from apps.complaints import services as hotline
from apps.complaints.defaults import ensure as categories_ensure
from apps.complaints.models import Category, Channel
from apps.lots.models import ParkingLot

TICKETS = 48
COMPLAINTS = {
    "fee_dispute": ["出场时收费比告示牌上的标准高", "停了40分钟却按2小时收费"],
    "wrong_charge": ["无感支付重复扣了两次费", "车已离场仍在计费"],
    "equipment_fault": ["出口道闸不抬杆，后面排起长队", "缴费二维码扫不出来"],
    "berth_occupied": ["充电泊位被燃油车占用", "无障碍车位被占"],
    "staff_attitude": ["收费员态度恶劣"],
    "payment_failure": ["微信支付显示失败但已扣款"],
    "suggestion": ["建议夜间免费开放", "希望增加电动车充电桩"],
    "other": ["停车场照明不足"],
}
CHANNELS = [Channel.PHONE, Channel.PHONE, Channel.WEB, Channel.WECHAT, Channel.CITY_12345]
# (share of tickets, the moves after dispatch): every state a ticket stays in (``received`` lasts
# only until the commit routes it)
PATHS = [
    (6, ()),
    (8, ("in_progress",)),
    (10, ("in_progress", "resolved")),
    (8, ("in_progress", "resolved", "closed")),
    (3, ("in_progress", "resolved", "reopened")),
    (3, ("rejected",)),
]


def demo_tickets_seed(*, seed: int, now: datetime) -> int:
    """Tickets received over the past three weeks about random demo lots; the older open ones are
    overdue, and one supervision pass warns and escalates them. Returns how many were made."""
    categories_ensure(Category)
    rng = random.Random(seed)
    lots = list(ParkingLot.objects.order_by("code").only("pk", "code", "region_id", "operator_id"))
    if not lots:
        return 0
    codes = sorted(COMPLAINTS)
    plan = [moves for share, moves in PATHS for _ in range(share)]
    made = 0
    for index in range(TICKETS):
        moves = plan[index % len(plan)]
        code = rng.choice(codes)
        received = now - timedelta(days=rng.uniform(0.2, 21))
        ticket = hotline.ticket_create(
            channel=rng.choice(CHANNELS), category=code, description=rng.choice(COMPLAINTS[code]),
            phone=f"139{rng.randrange(10**8):08d}", lot=rng.choice(lots), received_at=received,
            external_id=f"DEMO-{seed}-{index}")
        hotline.ticket_dispatch(ticket=ticket)
        for target in moves:
            reason = "duplicate" if target == "rejected" else ""
            hotline.ticket_transition(ticket=ticket, target=target, actor=None, reason=reason,
                                      note="演示：" + {"in_progress": "已派人处理", "resolved": "已处理完毕",
                                                    "closed": "回访满意", "reopened": "市民不满意",
                                                    "rejected": "重复诉求"}[target])
        made += 1
    hotline.tickets_supervise(now=now)
    return made
