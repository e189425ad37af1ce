"""The one place that sends occupancy changes to the channel layer (DESIGN.md, step 4).

Callers hand over lot ids with ``publish_lots_after_commit`` inside their transaction; nothing is
sent if the transaction rolls back, and nothing on the write path waits for the channel layer.

With Redis (``REDIS_URL``) the message goes to the ``occupancy`` group, which every server
process's hub has joined. Without Redis the channel layer lives in one process's memory, so a
``group_send`` from a process that serves no WebSocket — ``manage.py run_scheduler`` marking lots
offline, a management command — would reach nobody. Such a process (no hub has run in it and no
channel of it joined the group) writes a ``ChangeMarker`` row instead, and the server process's hub
reads new markers once a tick (``apps.realtime.hub``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from apps.common.outage import Outage

from .hub import OCCUPANCY_GROUP, has_local_listeners, is_process_local
from .models import ChangeMarker
from .selectors import lot_payload, lot_states

__all__ = ["OCCUPANCY_GROUP", "lot_payload", "publish_lots", "publish_lots_after_commit"]

logger = logging.getLogger(__name__)
_outage = Outage(logger, service="the channel layer",
                 consequence="occupancy changes are not pushed; open maps catch up on their next refresh")

# A server hub reads markers within a second; older ones only matter to a hub that was not
# running, and a hub loads a full snapshot when it starts.
MARKER_TTL = timedelta(minutes=5)


def publish_lots(lot_ids: Iterable[int]) -> None:
    """Send the current state of these lots to every occupancy subscriber. Never raises."""
    ids = sorted(set(lot_ids))
    if not ids:
        return
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        if is_process_local(layer) and not has_local_listeners(layer):
            _record_marker(ids)
            return
        lots = lot_states(ids)
        if lots:
            # sent_at: each hub measures the push lag (wxp_push_lag_seconds) from it.
            message = {"type": "occupancy.changed", "lots": lots, "sent_at": time.time()}
            try:
                async_to_sync(layer.group_send)(OCCUPANCY_GROUP, message)
            except RedisConnectionError:
                # The first send after Redis restarted meets a pooled connection the old server
                # closed; a second one opens a new connection (and fails at once if Redis is down).
                async_to_sync(layer.group_send)(OCCUPANCY_GROUP, message)
    except (OSError, RedisError) as exc:  # Redis unreachable: one warning line a minute, not a traceback a batch
        _outage.failed(exc)
    except Exception:  # a slow or absent channel layer must never break the write path
        logger.exception("occupancy publish failed for %d lots", len(ids))
    else:
        _outage.answered()


def publish_lots_after_commit(lot_ids: Iterable[int]) -> None:
    ids = list(lot_ids)
    transaction.on_commit(lambda: publish_lots(ids))


def _record_marker(ids: list[int]) -> None:
    now = timezone.now()
    ChangeMarker.objects.create(lot_ids=ids, created_at=now)
    ChangeMarker.objects.filter(created_at__lt=now - MARKER_TTL).delete()
