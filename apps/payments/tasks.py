"""Periodic payment work. Celery beat runs it in production; ``manage.py run_scheduler`` runs the
same functions in the embedded default (settings.CELERY_BEAT_SCHEDULE is the one list of both)."""

from __future__ import annotations

from celery import shared_task

from . import sandbox, services


@shared_task(name="apps.payments.tasks.reconcile_orders")
def reconcile_orders() -> dict:
    """Unpaid orders past their 15 minutes: asked at their gateway, then marked paid or closed."""
    return services.orders_reconcile()


@shared_task(name="apps.payments.tasks.deliver_sandbox_notice")
def deliver_sandbox_notice(order_no: str) -> int | None:
    """The sandbox gateway sends a paid trade's notice to its callback (the HTTP status, or None)."""
    trade = sandbox.trade_get(order_no)
    return sandbox.deliver(trade) if trade is not None else None
