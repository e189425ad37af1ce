"""What the account answers (issue 10 item 2), in Chinese: the subscribe welcome, text commands,
locations and menu clicks. Pure of HTTP: the webhook parses, asks here, renders.

Every plate a reply names is one the sender bound; nobody else's plate is ever shown. Work that
may take longer than WeChat's five seconds (opening a hotline ticket in another app) is marked
``deferred``: the webhook answers ``success`` at once and a task sends the answer as a
customer-service message (``answer_later``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common import plates as plate_rules
from apps.common import tickets
from apps.common.errors import DomainError
from apps.common.geo import gcj02_to_wgs84

from . import links, selectors, services
from .menu import KEY_COMPLAINT, KEY_MY_CARS, KEY_PAY

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inbound:
    """A message or event from a WeChat user, as the conversation needs it."""

    openid: str
    type: str  # text, location, event, or what else WeChat sends (image, voice, …)
    content: str = ""
    event: str = ""
    key: str = ""
    lat: float | None = None  # GCJ-02, as WeChat sends it
    lon: float | None = None

    def as_dict(self) -> dict:
        return {"openid": self.openid, "type": self.type, "content": self.content, "event": self.event,
                "key": self.key, "lat": self.lat, "lon": self.lon}


@dataclass(frozen=True)
class Answer:
    text: str | None = None  # None: nothing to say (WeChat is answered ``success``)
    deferred: bool = False  # answered later, by a customer-service message


def _app_id() -> str:
    return settings.WECHAT_APP_ID


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:.2f}"


def _local(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%m-%d %H:%M") if value else "—"


def _duration(start: datetime, end: datetime) -> str:
    minutes = max(0, int((end - start).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(h)d 小时 %(m)d 分钟") % {"h": hours, "m": minutes}
    return _("%(m)d 分钟") % {"m": minutes}


def _plates(openid: str) -> tuple[object | None, list[str]]:
    identity = selectors.identity_for(app_id=_app_id(), openid=openid)
    if identity is None:
        return None, []
    return identity.citizen, [bound.plate for bound in selectors.plates_of(identity.citizen)]


def help_text() -> str:
    return _("「无锡停车」可以为您：\n"
             "· 发送位置：查找附近有空位的停车场\n"
             "· 绑定 苏B12345：绑定车牌（最多 3 个）；解绑 苏B12345：解除绑定\n"
             "· 我的车：在场车辆的停车场、泊位、楼层和当前费用\n"
             "· 欠费：未缴的停车费和缴费链接\n"
             "· 投诉 内容：向 24 小时热线反映问题\n"
             "· 预约：医院预约停车\n"
             "停车地图：%(map)s") % {"map": links.absolute(links.MAP)}


def welcome_text() -> str:
    welcome = _("欢迎关注「无锡停车」！全市公共停车场的实时空位、停车缴费、车辆查找和停车投诉，都在这里。")
    return welcome + "\n\n" + help_text()


def _no_plates() -> str:
    return _("您还没有绑定车牌。发送“绑定 苏B12345”即可绑定（最多 3 个）。")


def bind(inbound: Inbound, args: str) -> str:
    if not args:
        return _("请在“绑定”后写上车牌号，例如：绑定 苏B12345")
    citizen = services.citizen_for_identity(app_id=_app_id(), openid=inbound.openid)
    try:
        bound, created = services.plate_bind(citizen=citizen, plate=args)
    except DomainError as exc:
        return _("绑定失败：%(reason)s") % {"reason": exc.message}
    if not created:
        return _("车牌 %(plate)s 已经绑定在您的账号上。") % {"plate": bound.plate}
    return _("已绑定车牌 %(plate)s。发送“我的车”查看在场车辆，发送“欠费”查看未缴停车费。") % {"plate": bound.plate}


def unbind(inbound: Inbound, args: str) -> str:
    if not args:
        return _("请在“解绑”后写上车牌号，例如：解绑 苏B12345")
    citizen, _bound = _plates(inbound.openid)
    if citizen is None:
        return _no_plates()
    try:
        services.plate_unbind(citizen=citizen, plate=args)
    except DomainError as exc:
        return _("解绑失败：%(reason)s") % {"reason": exc.message}
    return _("已解除绑定 %(plate)s。") % {"plate": plate_rules.validate(args)}


def my_cars(inbound: Inbound, args: str = "") -> str:
    _citizen, plates = _plates(inbound.openid)
    if not plates:
        return _no_plates()
    now = timezone.now()
    current = list(selectors.stays_of(plates).filter(current=1))
    if not current:
        return _("您绑定的车辆（%(plates)s）目前都不在停车场内。") % {"plates": "、".join(plates)}
    fees = selectors.fees_so_far(current, now=now)
    lines = []
    for stay in current:
        place = stay.lot.name
        if stay.berth is not None:
            place += _("，泊位 %(berth)s") % {"berth": stay.berth.code}
            if stay.berth.floor:
                place += _("，%(floor)s") % {"floor": stay.berth.floor}
        fee = fees[stay.pk]
        text = _("%(plate)s 停在 %(place)s\n入场 %(entry)s，已停 %(duration)s，当前费用 %(fee)s\n找车导航：%(link)s")
        lines.append(text % {
            "plate": stay.plate, "place": place, "entry": _local(stay.entry_at),
            "duration": _duration(stay.entry_at, now) if stay.entry_at else "—",
            "fee": _yuan(fee.due_fen) if fee.due_fen is not None else _("暂无法计算"),
            "link": links.navigate(stay.lot.code)})
    return "\n\n".join(lines)


def arrears(inbound: Inbound, args: str = "") -> str:
    _citizen, plates = _plates(inbound.openid)
    if not plates:
        return _no_plates()
    owed = list(selectors.arrears_of(plates))
    if not owed:
        return _("您绑定的车辆没有欠费。")
    lines = [_("%(plate)s 在 %(lot)s（%(at)s）欠费 %(amount)s\n缴费：%(link)s") % {
        "plate": debt.plate, "lot": debt.lot.name, "at": _local(debt.created_at),
        "amount": _yuan(debt.amount_fen - debt.paid_fen), "link": links.pay(debt.lot.code)} for debt in owed]
    total = sum(debt.amount_fen - debt.paid_fen for debt in owed)
    return "\n\n".join([*lines, _("合计 %(total)s") % {"total": _yuan(total)}])


def complaint(inbound: Inbound, args: str) -> str:
    opener = tickets.ticket_opener()
    if opener is None or not args:
        hint = _("请发送“投诉”加上问题、地点和车牌，例如：投诉 中山路停车场收费与公示不符。") if opener else ""
        return (hint + "\n" if hint else "") + _("您也可以在线填写投诉：%(link)s，或拨打 24 小时热线。") % {
            "link": links.hotline_form()}
    citizen, plates = _plates(inbound.openid)
    request = tickets.TicketRequest(text=args, openid=inbound.openid,
                                    user=citizen.user if citizen is not None else None, plates=tuple(plates))
    try:
        receipt = opener(request)
    except DomainError as exc:
        return _("投诉未能受理：%(reason)s") % {"reason": exc.message}
    text = _("您的投诉已受理，工单号 %(ticket)s。") % {"ticket": receipt.ticket_no}
    if receipt.respond_by is not None:
        text += _("我们将在 %(at)s 前答复。") % {"at": _local(receipt.respond_by)}
    return text


def reserve(inbound: Inbound, args: str = "") -> str:
    return _("医院预约停车：%(link)s") % {"link": links.signed_in(links.RESERVATIONS)}


def nearby(lat: float, lon: float) -> str:
    """The 5 nearest lots with a free berth, for a point WeChat sent in GCJ-02."""
    wgs_lat, wgs_lon = gcj02_to_wgs84(lat, lon)
    found = selectors.nearby_free_lots(lat=wgs_lat, lon=wgs_lon, limit=5)
    if not found:
        return _("附近暂时没有查到有空位的停车场。停车地图：%(map)s") % {"map": links.absolute(links.MAP)}
    lines = [_("附近有空位的停车场：")]
    for index, lot in enumerate(found, 1):
        distance = (_("%(km).1f 公里") % {"km": lot.distance_m / 1000} if lot.distance_m >= 1000
                    else _("%(m)d 米") % {"m": lot.distance_m})
        lines.append(_("%(i)d. %(name)s，%(distance)s，空位 %(free)d/%(total)d\n导航：%(link)s") % {
            "i": index, "name": lot.name, "distance": distance, "free": lot.free_berths, "total": lot.total_berths,
            "link": links.navigate(lot.code)})
    lines.append(_("停车地图：%(map)s") % {"map": links.absolute(links.MAP)})
    return "\n".join(lines)


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    handler: Callable[[Inbound, str], str]
    slow: Callable[[], bool] = lambda: False


COMMANDS = (
    Command(("帮助", "help", "?", "？"), lambda inbound, args: help_text()),
    # English words too: the English help names them.
    Command(("解绑", "unbind"), unbind),
    Command(("绑定", "bind"), bind),
    Command(("我的车", "我的车辆", "my cars", "my car"), my_cars),
    Command(("欠费", "缴费", "arrears"), arrears),
    # The hotline is another app: opening a ticket may take longer than WeChat waits.
    Command(("投诉", "complain"), complaint, slow=lambda: tickets.ticket_opener() is not None),
    Command(("预约", "book"), reserve),
)
CLICKS = {KEY_MY_CARS: my_cars, KEY_PAY: arrears, KEY_COMPLAINT: complaint}
_SEPARATORS = re.compile(r"^[\s:：,，]+")


def _command(content: str) -> tuple[Command, str] | None:
    text = content.strip()
    for command in COMMANDS:
        for word in command.words:
            if text.lower().startswith(word):
                return command, _SEPARATORS.sub("", text[len(word):]).strip()
    return None


def answer(inbound: Inbound) -> Answer:
    """The reply to ``inbound`` now, or ``Answer(deferred=True)`` when it is to be answered later."""
    if inbound.type == "event":
        event = inbound.event.lower()
        if event == "subscribe":
            services.identity_set_subscribed(app_id=_app_id(), openid=inbound.openid, subscribed=True)
            return Answer(welcome_text())
        if event == "unsubscribe":
            identity = selectors.identity_for(app_id=_app_id(), openid=inbound.openid)
            if identity is not None:
                services.identity_set_subscribed(app_id=_app_id(), openid=inbound.openid, subscribed=False)
            return Answer()
        if event == "click":
            handler = CLICKS.get(inbound.key)
            return Answer(handler(inbound, "") if handler else help_text())
        return Answer()  # view clicks, reported locations, events the account does not use
    if inbound.type == "location" and inbound.lat is not None and inbound.lon is not None:
        try:
            return Answer(nearby(inbound.lat, inbound.lon))
        except ValueError:
            return Answer(help_text())
    if inbound.type == "text":
        found = _command(inbound.content)
        if found is not None:
            command, args = found
            if command.slow():
                return Answer(deferred=True)
            return Answer(command.handler(inbound, args))
    return Answer(help_text())


def answer_later(inbound: Inbound) -> str:
    """The text of a deferred answer, worked out in a task. The citizen is told something whatever
    happens: an unexpected failure of the other app is logged and answered with the web form."""
    found = _command(inbound.content) if inbound.type == "text" else None
    if found is None:
        return help_text()
    command, args = found
    try:
        return command.handler(inbound, args)
    except Exception:
        logger.exception("wechat: a deferred answer failed")
        return _("暂时无法处理，请稍后再试，或在线提交：%(link)s") % {"link": links.hotline_form()}
