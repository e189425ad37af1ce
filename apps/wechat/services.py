"""Writes of the WeChat features: citizens by their WeChat identity, plate binding (SPEC §8), the
account's follow state and its menu."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.common import plates as plate_rules
from apps.sessions.models import SessionMoneyEntry

from .errors import PlateNotBound, PlateNotVerified, PlateProofRejected, PlateProofRequired, TooManyPlates
from .models import MAX_PLATES, BoundPlate, Citizen, Notice, WechatIdentity

#: SPEC §8: taking over another citizen's plate needs a payment of one of its stays this recent
PROOF_DAYS = 30


def citizen_for_user(*, user) -> Citizen:
    """The citizen record of a platform user (made on first need: a user who logged in otherwise
    than through WeChat may still bind plates)."""
    citizen, _created = Citizen.objects.get_or_create(user=user)
    return citizen


def citizen_for_identity(*, app_id: str, openid: str, unionid: str | None = None) -> Citizen:
    """The citizen behind a WeChat openid, made with its platform user on first sight. A unionid ties
    the openids one person has in the official account and the mini program to one citizen."""
    unionid = unionid or None
    for _attempt in range(3):
        try:
            with transaction.atomic():
                identity = WechatIdentity.objects.select_related("citizen").filter(app_id=app_id, openid=openid).first()
                if identity is not None:
                    citizen = identity.citizen
                    if unionid and citizen.unionid is None:
                        citizen.unionid = unionid
                        citizen.save(update_fields=["unionid"])
                    return citizen
                citizen = Citizen.objects.filter(unionid=unionid).first() if unionid else None
                if citizen is None:
                    user = get_user_model().objects.create_user(username=f"wx_{secrets.token_hex(12)}")
                    citizen = Citizen.objects.create(user=user, unionid=unionid)
                WechatIdentity.objects.create(citizen=citizen, app_id=app_id, openid=openid)
                return citizen
        except IntegrityError:
            continue  # another request made this identity (or unionid) first: read theirs
    raise RuntimeError("could not record the WeChat identity")  # pragma: no cover - three lost races in a row


def identity_set_subscribed(*, app_id: str, openid: str, subscribed: bool) -> WechatIdentity:
    citizen = citizen_for_identity(app_id=app_id, openid=openid)
    identity = WechatIdentity.objects.get(citizen=citizen, app_id=app_id, openid=openid)
    if identity.subscribed != subscribed:
        WechatIdentity.objects.filter(pk=identity.pk).update(subscribed=subscribed)
        identity.subscribed = subscribed
    return identity


def _proof_holds(*, plate: str, proof: str) -> bool:
    """Whether ``proof`` is the reference (the order number on the receipt) of a payment of one of
    ``plate``'s stays within the last ``PROOF_DAYS`` days."""
    if not proof:
        return False
    return SessionMoneyEntry.objects.filter(
        kind=SessionMoneyEntry.Kind.PAYMENT, reference=proof, session__plate=plate,
        created_at__gte=timezone.now() - timedelta(days=PROOF_DAYS)).exists()


def plate_bind(*, citizen: Citizen, plate: str, proof: str = "") -> tuple[BoundPlate, bool]:
    """Bind ``plate`` to ``citizen`` (SPEC §8): at most ``MAX_PLATES``; a plate another citizen holds
    moves to this one only with ``proof`` of a recent payment of one of its stays. Binding a plate
    one already holds changes nothing. Returns the binding and whether it is new."""
    value = plate_rules.validate(plate)
    proof = (proof or "").strip()
    with transaction.atomic():
        Citizen.objects.select_for_update().filter(pk=citizen.pk).first()  # one bind at a time per citizen
        held = BoundPlate.objects.select_for_update().filter(plate=value).first()
        if held is not None and held.citizen_id == citizen.pk:
            return held, False
        if BoundPlate.objects.filter(citizen=citizen).count() >= MAX_PLATES:
            raise TooManyPlates(_("最多绑定 %(n)d 个车牌，请先解绑一个") % {"n": MAX_PLATES}, field="plate",
                                details={"max_plates": MAX_PLATES})
        if held is not None:
            if not proof:
                message = _("该车牌已被其他用户绑定；如车辆归您使用，请提供近 %(days)d 天内该车牌的缴费订单号")
                raise PlateProofRequired(message % {"days": PROOF_DAYS}, field="proof",
                                         details={"proof_days": PROOF_DAYS})
            if not _proof_holds(plate=value, proof=proof):
                raise PlateProofRejected(
                    _("未找到该车牌近 %(days)d 天内用此订单号缴费的记录") % {"days": PROOF_DAYS}, field="proof")
            held.delete()
        try:
            with transaction.atomic():
                bound = BoundPlate.objects.create(citizen=citizen, plate=value, bound_at=timezone.now(),
                                                  proof=proof if held is not None else "")
        except IntegrityError as exc:  # bound by someone else a moment ago
            raise PlateProofRequired(_("该车牌已被其他用户绑定"), field="proof",
                                     details={"proof_days": PROOF_DAYS}) from exc
    return bound, True


def plate_unbind(*, citizen: Citizen | None, plate: str) -> None:
    """Unbind one of the citizen's plates (``None``: a user who never bound one: nothing to unbind)."""
    value = plate_rules.validate(plate)
    deleted = 0
    if citizen is not None:
        with transaction.atomic():
            deleted, _rows = BoundPlate.objects.filter(citizen=citizen, plate=value).delete()
    if not deleted:
        raise PlateNotBound(_("您没有绑定车牌 %(plate)s") % {"plate": value}, field="plate")


def plate_export(*, citizen: Citizen | None, plate: str, proof: str = "") -> dict:
    """What the platform holds about ``plate`` (PIPL), for the citizen who bound it and shows they
    drive it: a binding taken over with proof, or ``proof`` now (SPEC §8's rule: a payment of one of
    its stays within ``PROOF_DAYS`` days). A plate bound by a first comer without proof is a plate
    anyone could have typed in: its movements are not handed over on that alone."""
    from apps.common.privacy import export_plate

    value = plate_rules.validate(plate)
    bound = BoundPlate.objects.filter(citizen=citizen, plate=value).first() if citizen is not None else None
    if bound is None:
        raise PlateNotBound(_("您没有绑定车牌 %(plate)s") % {"plate": value}, field="plate")
    proof = (proof or "").strip()
    if proof and not _proof_holds(plate=value, proof=proof):
        raise PlateProofRejected(
            _("未找到该车牌近 %(days)d 天内用此订单号缴费的记录") % {"days": PROOF_DAYS}, field="proof")
    if not proof and not bound.proof:
        raise PlateNotVerified(
            _("导出车牌数据需核验车主身份：请提供近 %(days)d 天内该车牌的缴费订单号") % {"days": PROOF_DAYS},
            field="proof", details={"proof_days": PROOF_DAYS})
    return {"plate": value, "bound_at": bound.bound_at, "exported_at": timezone.now(),
            "retention_days": settings.SESSION_PLATE_RETENTION_DAYS, "held": export_plate(value)}


def notices_resend(*, notices, actor) -> int:
    """Queue the failed ones of ``notices`` (a queryset the member of staff may see) again, each sent
    after commit with a fresh count of attempts and the template now configured for its kind; one
    audit entry each. A template notice whose kind still has no template stays failed. Returns how
    many were queued."""
    from .notices import notice_schedule

    queued = 0
    with transaction.atomic():
        chosen = Notice.objects.select_for_update().filter(pk__in=notices.values("pk"), state=Notice.State.FAILED)
        for notice in chosen.order_by("pk"):
            template_id = notice.template_id
            if notice.channel == Notice.Channel.TEMPLATE:
                template_id = settings.WECHAT_NOTICE_TEMPLATES.get(notice.kind, template_id)
                if not template_id:
                    continue
            notice.state, notice.attempts, notice.error, notice.template_id = (
                Notice.State.QUEUED, 0, "", template_id)
            notice.save(update_fields=["state", "attempts", "error", "template_id"])
            audit_record(action="notice.resent", actor=actor, obj=notice, changes={"state": ["failed", "queued"]})
            notice_schedule(notice)
            queued += 1
    return queued


def menu_push(*, actor) -> dict:
    """Push the account's menu (``apps.wechat.menu``) to WeChat; a member of staff's push is audited."""
    from .client import official_account
    from .menu import account_menu

    menu = account_menu()
    official_account().menu.create(menu)
    audit_record(action="wechat.menu_pushed", actor=actor, changes={"menu": [None, menu]})
    return menu
