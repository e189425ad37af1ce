"""The demo city's drivers pay at the code over real HTTP: order, cashier, the sandbox's notice, and
the lot sending the exit again."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
import pytest
from django.test import override_settings
from django.utils import timezone

from apps.demo.payers import Payers
from apps.payments.models import Order
from apps.sessions.models import ParkingSession
from tests.factories_payments import Gate, flat_lot, stay_waiting

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.midday]


def test_a_driver_stopped_at_the_barrier_pays_and_the_exit_is_sent_again(live_server):
    gate = Gate(flat_lot())
    stay = stay_waiting(gate)
    exit_sent = {"event_id": "x-1", "type": "exit", "lot_code": gate.lot.code, "plate": stay.plate,
                 "occurred_at": timezone.localtime().isoformat()}
    resent = []
    with override_settings(PUBLIC_BASE_URL=live_server.url), httpx.Client(timeout=30) as client:
        payers = Payers(client=client, base=live_server.url, rng=random.Random(1), rate=5)
        payers.rng.random = lambda: 0.0  # this driver pays
        now = timezone.now()
        payers.stopped_at_barrier(gate.lot.code, exit_sent, {"session_id": stay.pk}, now)
        payers.tick(now, model=None, resend=lambda code, events: resent.extend(events))  # not due yet
        payers.rng.random = lambda: 0.99  # and pays no one else's while parked
        payers.tick(now + timedelta(seconds=30), model=None, resend=lambda code, events: resent.extend(events))
    assert Order.objects.get().state == "paid"
    assert ParkingSession.objects.get(pk=stay.pk).due_fen == 0
    assert payers.stats.paid == 1 and payers.stats.paid_fen == 600
    assert len(resent) == 1 and resent[0]["event_id"] == "x-1-paid" and resent[0]["plate"] == stay.plate
    decision = gate.send(resent[0])["results"][0]["session"]
    assert (decision["release"], decision["release_reason"]) == (True, "paid")
