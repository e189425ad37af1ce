"""The demo city's drivers pay at the lot's code, through the real API and the sandbox cashier:
most of those the barrier stops pay there and the lot sends their exit again (released ``paid``),
some pay while still parked and then leave within the grace, and a few never pay (their stay
becomes arrears when the plate next enters).

Everything goes over HTTP, as a phone would: ``GET /api/v1/pay/due``, ``POST /api/v1/payments/orders``,
the cashier page's pay button (the sandbox then sends its signed notice to ``/payments/notify/sandbox/``).
"""

from __future__ import annotations

import random
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

PAY_AT_BARRIER = 0.85  # of the drivers the barrier stops; the rest leave without paying
PAY_WHILE_PARKED_PER_S = 0.3  # drivers paying from their phone before walking back to the car
GIVE_UP_AFTER_S = 120  # a driver kept waiting at the barrier this long drives off unpaid
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class PayStats:
    paid: int = 0
    paid_fen: int = 0
    while_parked: int = 0
    never: int = 0
    failed: int = 0


@dataclass
class _Waiting:
    code: str
    exit_event: dict
    session_id: int
    due_at: datetime


@dataclass
class Payers:
    """Drivers at the lots' codes. ``client`` talks to the platform at ``base``; ``rate`` caps the
    payments a second (each is a few requests and a callback)."""

    client: httpx.Client
    base: str
    rng: random.Random
    rate: float = 1.0
    stats: PayStats = field(default_factory=PayStats)
    waiting: deque = field(default_factory=deque)
    leaving: list = field(default_factory=list)  # (at, code, vehicle key): paid while parked, leaving soon
    _budget: float = 0.0
    _last: datetime | None = None

    def stopped_at_barrier(self, code: str, exit_event: dict, session: dict, now: datetime) -> None:
        """An exit answered ``unpaid``: the driver pays at the code in a moment, or drives off."""
        if self.rng.random() >= PAY_AT_BARRIER:
            self.stats.never += 1
            return
        self.waiting.append(_Waiting(code, exit_event, session["session_id"],
                                     now + timedelta(seconds=self.rng.uniform(3, 20))))

    def tick(self, now: datetime, model, resend) -> None:
        """Pay what is due now within the rate; ``resend(code, events)`` queues the lot's events."""
        if self._last is not None:
            self._budget = min(self.rate * 5, self._budget + self.rate * (now - self._last).total_seconds())
        self._last = now
        if self._budget >= 1 and self.rng.random() < PAY_WHILE_PARKED_PER_S:
            self._budget -= 1
            self.pay_while_parked(now, model)
        while self.waiting and self.waiting[0].due_at <= now and self._budget >= 1:
            stop = self.waiting.popleft()
            if (now - stop.due_at).total_seconds() > GIVE_UP_AFTER_S:
                self.stats.never += 1
                continue
            self._budget -= 1
            if self.pay([stop.session_id]):
                again = dict(stop.exit_event, event_id=f"{stop.exit_event['event_id']}-paid",
                             occurred_at=now.isoformat(timespec="seconds"))
                resend(stop.code, [again])
        for item in [x for x in self.leaving if x[0] <= now]:
            self.leaving.remove(item)
            _at, code, key = item
            resend(code, model.leave_now(code, key, now))

    def pay_while_parked(self, now: datetime, model) -> None:
        code = self.rng.choice(sorted(model.lots))
        cars = [car for car in model.parked_cars(code) if car.vehicle.plate]
        if not cars:
            return
        car = self.rng.choice(cars)
        try:
            response = self.client.get(f"{self.base}/api/v1/pay/due", params={"lot": code, "plate": car.vehicle.plate})
        except httpx.HTTPError:
            self.stats.failed += 1
            return
        if response.status_code != 200:
            return  # nothing due (a free lot, or the first free minutes)
        due = response.json()
        if self.pay([s["session_id"] for s in due["sessions"]]):
            self.stats.while_parked += 1
            grace_s = max(60, due["grace_minutes"] * 60 - 120)
            self.leaving.append((now + timedelta(seconds=self.rng.uniform(30, grace_s)), code, car.vehicle.key))

    def pay(self, session_ids: list[int]) -> bool:
        """Order, open the cashier, press pay. True once the order is paid."""
        try:
            response = self.client.post(f"{self.base}/api/v1/payments/orders",
                                        json={"session_ids": session_ids, "channel": "sandbox"})
            if response.status_code not in (200, 201):
                self.stats.failed += 1
                return False
            order = response.json()
            cashier = order["pay"]["pay_url"]
            page = self.client.get(cashier)
            token = _CSRF.search(page.text)
            if token is None:
                self.stats.failed += 1
                return False
            self.client.post(cashier, data={"csrfmiddlewaretoken": token.group(1)}, headers={"Referer": cashier})
            paid = self.client.get(f"{self.base}/api/v1/payments/orders/{order['order_no']}").json()
        except (httpx.HTTPError, KeyError, ValueError):
            self.stats.failed += 1
            return False
        if paid.get("state") != "paid":
            self.stats.failed += 1
            return False
        self.stats.paid += 1
        self.stats.paid_fen += paid["amount_fen"]
        return True
