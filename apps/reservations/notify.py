"""Telling a citizen about their booking (a no-show, a suspension): a port the WeChat work fills.

``apps.wechat`` registers a notifier in its ``ready()``; with none registered nothing is sent.
Services call ``notify_after_commit`` so a rolled-back change tells nobody.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

Notifier = Callable[[str, int, dict], None]  # (event, the citizen's user id, data)

_notifiers: list[Notifier] = []


def register_notifier(notifier: Notifier) -> None:
    if notifier not in _notifiers:
        _notifiers.append(notifier)


def unregister_notifier(notifier: Notifier) -> None:
    if notifier in _notifiers:
        _notifiers.remove(notifier)


def notify_after_commit(event: str, user_id: int, data: dict) -> None:
    """``event``: ``reservation.no_show``, ``booking.suspended``, ``sharing.approved`` …"""
    def send():
        for notifier in list(_notifiers):
            notifier(event, user_id, dict(data))

    transaction.on_commit(send)
