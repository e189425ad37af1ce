"""One row per staff action: who did what to which object, when and from where.

Written by the services staff trigger (``apps.audit.services.audit_record``), never by signals, so
an entry says what the member of staff meant (``lot.closed``), not only which columns moved; the
field-by-field trail of registry rows stays with django-simple-history beside it.

This app imports no other app of the platform: the registry apps import it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.common.scope import scope_of


class AuditQuerySet(models.QuerySet):
    def for_user(self, user):
        """City-wide staff see every entry; others the entries about objects they may see."""
        scope = scope_of(user)
        if scope.city_wide:
            return self
        if scope.empty:
            return self.none()
        q = Q(pk__in=[])
        for content_type_id, model in _scoped_models().items():
            q |= Q(content_type_id=content_type_id,
                   object_id__in=model._default_manager.all().for_scope(scope).values("pk"))
        return self.filter(q)


def _scoped_models() -> dict[int, type[models.Model]]:
    from django.apps import apps

    scoped = [m for m in apps.get_models() if hasattr(m, "scope_paths") and hasattr(m._default_manager, "for_user")]
    types = ContentType.objects.get_for_models(*scoped)
    return {types[m].pk: m for m in scoped}


class AuditEntry(models.Model):
    action = models.CharField(_("操作"), max_length=64, db_index=True,
                              help_text=_("点分的操作代码，如 lot.closed、operator.changed"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(_("操作人账号"), max_length=150, blank=True,
                                  help_text=_("账号被删除后仍可查"))
    content_type = models.ForeignKey(ContentType, verbose_name=_("对象类型"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    object_id = models.PositiveBigIntegerField(_("对象编号"), null=True, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    changes = models.JSONField(_("变更内容"), default=dict, blank=True,
                               help_text=_("字段 → [原值, 新值]"))
    ip = models.GenericIPAddressField(_("来源 IP"), null=True, blank=True)
    user_agent = models.CharField(_("浏览器"), max_length=256, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("操作记录")
        verbose_name_plural = pgettext_lazy("plural", "操作记录")
        indexes = [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr}"


class PlateViewQuerySet(models.QuerySet):
    def for_user(self, user):
        """City-wide staff read who saw which plates; anyone else only their own views."""
        scope = scope_of(user)
        if scope.city_wide:
            return self
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(viewer=user)


class PlateView(models.Model):
    """One staff page that showed full plates (PIPL, docs/privacy.md): who, when, which objects.

    One row a page view, never one a row shown: a list page stores the ids of the page's objects,
    a CSV export the ids it was asked for (or the filter, when every match was chosen)."""

    class Kind(models.TextChoices):
        LIST = "list", _("列表")
        CHANGE = "change", _("详情")
        EXPORT = "export", _("导出")

    viewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("查看人"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    viewer_name = models.CharField(_("查看人账号"), max_length=150, blank=True)
    kind = models.CharField(_("方式"), max_length=8, choices=Kind.choices)
    content_type = models.ForeignKey(ContentType, verbose_name=_("对象类型"), on_delete=models.PROTECT,
                                     related_name="+")
    object_ids = models.JSONField(_("对象编号"), default=list, blank=True)
    count = models.PositiveIntegerField(_("条数"), default=0)
    path = models.CharField(_("页面"), max_length=500, help_text=_("含查询条件（如搜索的车牌）"))
    ip = models.GenericIPAddressField(_("来源 IP"), null=True, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    objects = PlateViewQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("车牌查看记录")
        verbose_name_plural = pgettext_lazy("plural", "车牌查看记录")
        indexes = [models.Index(fields=["viewer", "at"], name="plate_view_viewer_idx")]

    def __str__(self) -> str:
        return f"{self.viewer_name} · {self.get_kind_display()} · {self.at:%Y-%m-%d %H:%M}"
