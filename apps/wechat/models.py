"""Citizens known by their WeChat identity, the plates they bound (SPEC §8) and the notice log.

Staff scope (``apps.common.scope``): a bound plate is seen by the staff of a region or operator
whose lots it parked in (a district's officer sees the plates of the cars that use the district's
lots, not every plate in the city); a citizen by the staff who see one of their plates; a notice
by the staff who see its citizen. City-wide staff see everything. None of these are written by
staff: the citizens' own actions and the notice tasks write them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common import notices
from apps.common.scope import Scope, ScopedQuerySet, ScopePaths
from apps.sessions.models import ParkingSession

#: SPEC §8: a citizen binds at most this many plates
MAX_PLATES = 3


class BoundPlateQuerySet(ScopedQuerySet):
    def scope_q(self, scope: Scope) -> Q | None:
        if scope.city_wide:
            return None
        parked = ParkingSession.objects.for_scope(scope).filter(plate__isnull=False).values("plate")
        return Q(plate__in=parked)


class CitizenQuerySet(ScopedQuerySet):
    def scope_q(self, scope: Scope) -> Q | None:
        if scope.city_wide:
            return None
        return Q(pk__in=BoundPlate.objects.for_scope(scope).values("citizen_id"))


class Citizen(models.Model):
    """A citizen of the service window: one platform user, known by the WeChat identities below
    (one openid per app; the unionid, when WeChat gives one, ties the apps' openids together)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE,
                                related_name="citizen")
    unionid = models.CharField(_("UnionID"), max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("注册时间"), auto_now_add=True)

    objects = CitizenQuerySet.as_manager()
    scope_paths = ScopePaths()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("市民")
        verbose_name_plural = pgettext_lazy("plural", "市民")

    def __str__(self) -> str:
        return f"{_('市民')} {self.pk}"


class ByCitizenQuerySet(ScopedQuerySet):
    """Rows of a citizen: seen by the staff who see the citizen."""

    def scope_q(self, scope: Scope) -> Q | None:
        if scope.city_wide:
            return None
        return Q(citizen__in=Citizen.objects.for_scope(scope).values("pk"))


class WechatIdentity(models.Model):
    """An openid: who the citizen is to one WeChat app (the official account or the mini program)."""

    citizen = models.ForeignKey(Citizen, verbose_name=_("市民"), on_delete=models.CASCADE, related_name="identities")
    app_id = models.CharField(_("AppID"), max_length=32)
    openid = models.CharField(_("OpenID"), max_length=64)
    subscribed = models.BooleanField(_("已关注"), default=False, help_text=_("关注公众号的用户才能收到通知"))
    created_at = models.DateTimeField(_("首次登录时间"), auto_now_add=True)

    objects = ByCitizenQuerySet.as_manager()
    scope_paths = ScopePaths()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("微信身份")
        verbose_name_plural = pgettext_lazy("plural", "微信身份")
        constraints = [models.UniqueConstraint(fields=["app_id", "openid"], name="wechat_identity_unique")]

    def __str__(self) -> str:
        return f"{self.app_id}/{self.openid}"


class BoundPlate(models.Model):
    """A plate a citizen bound: they see its stays and arrears and may pay them. A plate has one
    holder; another citizen takes it over only with proof (SPEC §8)."""

    citizen = models.ForeignKey(Citizen, verbose_name=_("市民"), on_delete=models.CASCADE, related_name="plates")
    plate = models.CharField(_("车牌"), max_length=16, unique=True, help_text=_("规范化车牌"))
    bound_at = models.DateTimeField(_("绑定时间"))
    proof = models.CharField(_("绑定凭据"), max_length=128, blank=True,
                             help_text=_("从他人处转绑时出示的近 30 天缴费凭据（订单号）"))

    objects = BoundPlateQuerySet.as_manager()
    scope_paths = ScopePaths()

    class Meta:
        ordering = ["bound_at", "id"]
        verbose_name = _("绑定车牌")
        verbose_name_plural = pgettext_lazy("plural", "绑定车牌")

    def __str__(self) -> str:
        return self.plate


class NoticeQuerySet(ByCitizenQuerySet):
    def failed(self):
        return self.filter(state=Notice.State.FAILED)


class Notice(models.Model):
    """One message the account sent on its own (a template notice, or a customer-service message
    answering what could not be answered within WeChat's five seconds), and how it went."""

    class Channel(models.TextChoices):
        TEMPLATE = "template", _("模板消息")
        CUSTOMER_SERVICE = "customer_service", _("客服消息")

    class State(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    KIND_REPLY = "reply"
    KIND_CHOICES = [
        (notices.PAYMENT_RECEIPT, _("缴费凭证")),
        (notices.PAY_LATER_CHARGE, _("先离场后付费扣款")),
        (notices.ARREARS_REMINDER, _("欠费提醒")),
        (notices.RESERVATION_CONFIRMED, _("预约成功")),
        (notices.RESERVATION_REMINDER, _("预约提醒")),
        (notices.RESERVATION_NO_SHOW, _("预约爽约")),
        (notices.TICKET_STATUS, _("投诉进度")),
        (KIND_REPLY, _("消息回复")),
    ]

    citizen = models.ForeignKey(Citizen, verbose_name=_("市民"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="notices")
    app_id = models.CharField(_("AppID"), max_length=32)
    openid = models.CharField(_("OpenID"), max_length=64)
    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)
    kind = models.CharField(_("类型"), max_length=32, choices=KIND_CHOICES)
    template_id = models.CharField(_("模板"), max_length=64, blank=True)
    data = models.JSONField(_("内容"), default=dict, blank=True)
    url = models.CharField(_("链接"), max_length=512, blank=True)
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    error = models.CharField(_("错误"), max_length=512, blank=True)
    wechat_msgid = models.CharField(_("微信消息编号"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    objects = NoticeQuerySet.as_manager()
    scope_paths = ScopePaths()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("通知记录")
        verbose_name_plural = pgettext_lazy("plural", "通知记录")
        permissions = [("push_menu", _("可以推送公众号菜单")), ("resend_notice", _("可以重新发送失败的通知"))]
        indexes = [models.Index(fields=["state", "-created_at"], name="notice_state_idx")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.openid}"


class SeenMessage(models.Model):
    """A WeChat message key recorded in the database while the shared cache was unreachable, so
    that WeChat's retries still act once (``apps.wechat.webhook``). Empty but for outages; rows past
    ``expires_at`` are purged by the webhook itself."""

    key = models.CharField(_("消息摘要"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("过期时间"), db_index=True)

    class Meta:
        verbose_name = _("已处理的微信消息")
        verbose_name_plural = pgettext_lazy("plural", "已处理的微信消息")

    def __str__(self) -> str:
        return self.key
