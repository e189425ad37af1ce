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
