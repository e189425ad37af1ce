"""Helpers for the payment tests: a lot with a flat tariff (so what is due does not depend on the
hour the suite runs), stays entered and exited through the ingest service, and the
sandbox gateway's signed notices, built the way the gateway builds them."""

from __future__ import annotations

from datetime import datetime, timedelta

import factory
from django.utils import timezone

from apps.payments import sandbox
from apps.payments.models import Order, PaymentAgreement
from apps.sessions.models import ParkingSession
from apps.sessions.services import events_record
from tests.factories import DeviceFactory, LotFactory, TariffFactory
from tests.factories_sessions import entry_event, exit_event


def flat_rules(now: datetime | None = None) -> dict:
    """2 yuan per started half hour, no free time, with its one band boundary at least six hours away.

    A band is cut at its occurrence's end (SPEC §6 rule 3), so a stay across it is charged a unit
    more; "00:00"–"24:00" ends at each local midnight. From 18:00 to 06:00 in Wuxi the band runs
    12:01–12:00 instead (it wraps past midnight: one occurrence, its end at noon; the minute
    12:00–12:01 is free), so a stay of a few hours ending about now costs the same whenever the suite
    runs, here and in a server process that prices it on its own clock."""
    hour = timezone.localtime(now).hour
    start, end = ("00:00", "24:00") if 6 <= hour < 18 else ("12:01", "12:00")
    return {"small": {"free_minutes": 0, "bands": [
        {"start": start, "end": end, "ladder": [{"after_minutes": 0, "unit_minutes": 30, "unit_fen": 200}]}]},
        "large": {"same_as": "small", "multiplier": 2}}


FLAT_RULES = flat_rules()
NOTIFY_PATH = "/payments/notify/sandbox/"
ORDERS_PATH = "/api/v1/payments/orders"


def flat_lot(**fields):
    return LotFactory(tariff=TariffFactory(rules=flat_rules()), total_berths=100, free_berths=100, **fields)


class Gate:
    """A lot's system: sends entries and exits through ``events_record`` as a signed request would."""

    def __init__(self, lot):
        self.lot = lot
        self.device = DeviceFactory.issue(lots=[lot])[0]

    def send(self, *events, now: datetime | None = None) -> dict:
        return events_record(device=self.device, events=list(events), now=now or timezone.now()).as_dict()

    def enter(self, plate: str, *, at: datetime) -> ParkingSession:
        self.send(entry_event(self.lot, plate, at=at))
        return ParkingSession.objects.get(lot=self.lot, plate=plate, state__in=ParkingSession.ACTIVE_STATES)

    def exit(self, plate: str, *, at: datetime | None = None) -> dict:
        """The exit camera sees ``plate`` at ``at`` (the clock then, so a test may exit in its future)."""
        at = at or timezone.now()
        result = self.send(exit_event(self.lot, plate, at=at), now=max(at, timezone.now()))["results"][0]
        assert result["status"] == "accepted", result
        return result["session"]


def stay_waiting(gate: Gate, plate: str = "苏B12345", *, minutes: int = 90) -> ParkingSession:
    """A stay that has exited unpaid: waiting at the barrier, its amount fixed."""
    now = timezone.now()
    gate.enter(plate, at=now - timedelta(minutes=minutes))
    decision = gate.exit(plate, at=now - timedelta(seconds=5))
    assert decision["release_reason"] == "unpaid", decision
    return ParkingSession.objects.get(pk=decision["session_id"])


def payment_payload(order: Order, **changes) -> dict:
    payload = {"id": f"N-{order.order_no}", "event": "payment", "merchant_id": sandbox.MERCHANT_ID,
               "order_no": order.order_no, "transaction_id": f"SBX-{order.order_no}", "amount_fen": order.amount_fen,
               "state": "paid", "paid_at": timezone.localtime().isoformat(), "payer": "sandbox"}
    payload.update(changes)
    return payload


def post_notice(client, payload: dict, *, key: bytes | None = None, timestamp: int | None = None, headers=None):
    body, signed = sandbox.signed_notice(payload, key=key, timestamp=timestamp)
    signed.pop("Content-Type")
    signed.update(headers or {})
    return client.generic("POST", NOTIFY_PATH, body, content_type="application/json", headers=signed)


def order_for(client, session_ids, channel: str = "sandbox"):
    return client.post(ORDERS_PATH, {"session_ids": list(session_ids), "channel": channel}, format="json")


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentAgreement

    plate = factory.Sequence(lambda n: f"苏E{n % 100000:05d}")
    channel = "sandbox"
    provider_ref = factory.Sequence(lambda n: f"AG{n:08d}")
    signed_at = factory.LazyFunction(timezone.now)
