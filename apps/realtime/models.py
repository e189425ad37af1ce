from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ChangeMarker(models.Model):
    """Lots changed by a process that serves no WebSocket, for the server process to pick up.

    Only used with the in-memory channel layer (no REDIS_URL), where a group_send from the
    scheduler process could never reach the server's connections; see ``apps.realtime.hub``.
    """

    lot_ids = models.JSONField(_("停车场"))
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("余位变更标记")
        verbose_name_plural = pgettext_lazy("plural", "余位变更标记")

    def __str__(self) -> str:
        return f"{self.created_at:%H:%M:%S} {len(self.lot_ids)}"
