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


@shared_task(name="apps.payments.tasks.charge_agreements")
def charge_agreements() -> dict:
    """Pay-later exits charged through their plate's agreement (无感支付), after the exit's batch committed."""
    from . import agreements

    return agreements.agreement_charges_run()


@shared_task(name="apps.payments.tasks.remind_arrears")
def remind_arrears() -> dict:
    """Arrears recovery's escalation, by the rules staff edit (notice → repeat → public list → blacklist)."""
    from . import recovery

    return recovery.reminders_run()


@shared_task(name="apps.payments.tasks.build_statements")
def build_statements() -> dict:
    """This and last month's statements, and the half-yearly service fee, rebuilt from the payments."""
    from . import settlement

    return settlement.statements_build()


@shared_task(name="apps.payments.tasks.retry_refunds")
def retry_refunds() -> int:
    """Approved refunds the gateway could not take yet, sent again."""
    from . import refunds

    return refunds.refunds_retry()
