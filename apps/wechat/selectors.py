"""Reads of the citizen's own data that the API, the WeChat conversation and the 我的 pages share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from apps.common.errors import DomainError
from apps.lots import selectors as lot_selectors
from apps.sessions.models import Arrears, ParkingSession

from .models import BoundPlate, Citizen, WechatIdentity

#: how many past stays the citizen's list keeps, after the current ones
PAST_STAYS_DAYS = 90


def citizen_of(user) -> Citizen | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Citizen.objects.filter(user=user).first()


def plates_of(citizen: Citizen | None) -> list[BoundPlate]:
    if citizen is None:
        return []
    return list(BoundPlate.objects.filter(citizen=citizen).order_by("bound_at", "pk"))


def bound_plates_of(user) -> list[str]:
    """The answer to ``apps.common.citizens``'s port: the user's bound plates, normalised."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    bound = BoundPlate.objects.filter(citizen__user=user).order_by("bound_at", "pk")
    return list(bound.values_list("plate", flat=True))


def identity_for(*, app_id: str, openid: str) -> WechatIdentity | None:
    return WechatIdentity.objects.select_related("citizen__user").filter(app_id=app_id, openid=openid).first()


def stays_of(plates: list[str]):
    """The stays of these plates: the current ones (in a lot, or waiting for payment at the barrier)
    first, then the past ones of the last ``PAST_STAYS_DAYS`` days, newest first."""
    since = timezone.now() - timedelta(days=PAST_STAYS_DAYS)
    current = list(ParkingSession.ACTIVE_STATES)
    return (ParkingSession.objects.filter(plate__in=list(plates))
            .filter(Q(state__in=current) | Q(entry_at__gte=since) | Q(entry_at__isnull=True, exit_at__gte=since))
            .exclude(state=ParkingSession.State.SUPERSEDED)
            .annotate(current=Case(When(state__in=current, then=Value(1)), default=Value(0),
                                   output_field=IntegerField()))
            .select_related("lot__tariff", "berth").order_by("-current", "-entry_at", "-pk"))


@dataclass(frozen=True)
class FeeSoFar:
    amount_fen: int | None  # None: the lot's tariff cannot price it (no tariff, a broken one)
    due_fen: int | None


def fees_so_far(stays: list[ParkingSession], *, now: datetime | None = None) -> dict[int, FeeSoFar]:
    """What each stay costs: a stay still in the lot is priced to now with the lot's tariff and the
    free windows that apply (the fee engine, as the public quote does); a stay the barrier priced
    keeps its amount. Free windows are read in one query for all the lots."""
    now = now or timezone.now()
    open_stays = [s for s in stays if s.state == ParkingSession.State.OPEN and s.entry_at is not None]
    open_ids = {s.pk for s in open_stays}
    windows = {}
    if open_stays:
        earliest = min(s.entry_at for s in open_stays)
        windows = lot_selectors.free_windows_by_lot(lots={s.lot for s in open_stays}, start=earliest, end=now)
    result = {}
    for stay in stays:
        if stay.pk in open_ids:
            try:
                amount = lot_selectors.fee_for_stay(
                    lot=stay.lot, entry=stay.entry_at, exit=max(now, stay.entry_at),
                    vehicle_class=stay.vehicle_class, new_energy=stay.new_energy,
                    free_windows=windows.get(stay.lot_id, []))
            except DomainError:
                result[stay.pk] = FeeSoFar(amount_fen=None, due_fen=None)
                continue
            result[stay.pk] = FeeSoFar(amount_fen=amount, due_fen=max(0, amount - stay.paid_fen - stay.waived_fen))
        else:
            result[stay.pk] = FeeSoFar(amount_fen=stay.amount_fen, due_fen=stay.due_fen)
    return result


def arrears_of(plates: list[str]):
    """What these plates owe, oldest first."""
    return (Arrears.objects.unpaid().filter(plate__in=list(plates)).select_related("lot", "session")
            .order_by("created_at", "pk"))


@dataclass(frozen=True)
class NearbyLot:
    code: str
    name: str
    address: str
    distance_m: int
    free_berths: int
    total_berths: int
    lat: float
    lon: float


def nearby_free_lots(*, lat: float, lon: float, limit: int = 5) -> list[NearbyLot]:
    """The ``limit`` lots nearest a WGS-84 point that are open with a free berth, nearest first,
    read from the map's shared snapshot (as ``/api/v1/lots/nearest?min_free=1``)."""
    snapshot = lot_selectors.lot_snapshot()
    found = []
    for distance, lot in lot_selectors.snapshot_lots_nearest(snapshot, lat=lat, lon=lon, limit=limit, min_free=1):
        total = json.loads(lot.json)["total_berths"]
        found.append(NearbyLot(code=lot.code, name=lot.name, address=lot.address, distance_m=distance,
                               free_berths=lot.free_berths, total_berths=total, lat=lot.lat, lon=lot.lon))
    return found


def pay_openid_of(user) -> str:
    """The answer to ``apps.common.citizens``'s payer port: the user's openid with the WeChat Pay
    app (SPEC §8.1: JSAPI inside WeChat), or "" when they never opened the account with it."""
    if user is None or not getattr(user, "is_authenticated", False) or not settings.WECHAT_PAY_APP_ID:
        return ""
    found = WechatIdentity.objects.filter(citizen__user=user, app_id=settings.WECHAT_PAY_APP_ID)
    return found.order_by("pk").values_list("openid", flat=True).first() or ""
