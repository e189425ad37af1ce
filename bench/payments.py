"""Payment callbacks: many signed notices for distinct orders at once through the sandbox callback,
beside the ingest POST's round trip in the same run, on the same servers.

Workload: ``orders`` stays waiting at the barrier (each in its own order, made through
``services.order_create`` as the API makes it), then one signed sandbox notice per order, all sent
at the same moment over ``orders`` connections split between the servers
(``POST /payments/notify/sandbox/``: verify the HMAC, lock the stay and the order, apply the money
through the sessions service, mark the order paid). Throughput is notices over the time from the
release to the last answer; latency is each notice's own round trip. ``runs`` rounds, fresh orders
each time. Afterwards every order must be paid once, every stay owe nothing, and no payment
exception be open.

Beside it, in the same run: the round trip of a signed ``POST /api/v1/ingest/events`` of 10 events
(5 exits, 5 entries) sent one after another, so the callback's cost reads against the request the
platform serves most.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from django.utils import timezone

from apps.payments import sandbox, services
from apps.payments.models import Order, PaymentException
from apps.sessions.models import ParkingSession, SessionMoneyEntry

from .env import BenchError, CpuMeter, Servers
from .ingest import _post, bench_lots, issue_keys, plan_batches

NOTIFY_PATH = "/payments/notify/sandbox/"


@dataclass
class PaymentsResult:
    orders: int
    runs: int
    servers: int
    seconds: list[float] = field(default_factory=list)  # per run: release to last answer
    latencies: list[float] = field(default_factory=list)  # every notice of every run
    ingest_latencies: list[float] = field(default_factory=list)
    ingest_batch: int = 10
    problems: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rates(self) -> list[float]:
        return [self.orders / s for s in self.seconds]

    @staticmethod
    def percentile(values: list[float], pct: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))] if ordered else 0.0


def _waiting_stays(lots, count: int, *, run: int, prefix: str) -> list[ParkingSession]:
    """Stays that exited unpaid and wait at the barrier, spread over ``lots`` (a plate a run)."""
    now = timezone.now()
    letter = "ACDEFGHJKLMNPQRSTUVWXYZ"[run % 23]
    stays = []
    for n in range(count):
        lot = lots[n % len(lots)]
        stays.append(ParkingSession(
            lot=lot, plate=f"苏B{letter}{n:04d}",
            state=ParkingSession.State.AWAITING_PAYMENT,
            entry_at=now - timedelta(hours=2), exit_at=now - timedelta(minutes=1), amount_fen=600, due_fen=600,
            release_reason=ParkingSession.ReleaseReason.UNPAID, entry_event_id=f"{prefix}-{n}-in",
            exit_event_id=f"{prefix}-{n}-out"))
    return ParkingSession.objects.bulk_create(stays)


def _notices(orders: list[Order]) -> list[tuple[bytes, dict]]:
    signed = []
    for order in orders:
        payload = {"id": f"N{order.order_no}", "event": "payment", "merchant_id": sandbox.MERCHANT_ID,
                   "order_no": order.order_no, "transaction_id": f"SBX{order.order_no}",
                   "amount_fen": order.amount_fen, "state": "paid", "paid_at": timezone.localtime().isoformat(),
                   "payer": "bench"}
        signed.append(sandbox.signed_notice(payload))
    return signed


async def _fire(urls: list[str], notices: list[tuple[bytes, dict]]) -> tuple[float, list[float], list[int]]:
    """Every notice at once, one connection each; (seconds, latencies, statuses)."""
    clients = [httpx.AsyncClient(base_url=url, timeout=120,
                                 limits=httpx.Limits(max_connections=len(notices), max_keepalive_connections=0))
               for url in urls]
    latencies = [0.0] * len(notices)
    statuses = [0] * len(notices)
    gate = asyncio.Event()

    async def one(index: int, body: bytes, headers: dict) -> None:
        client = clients[index % len(clients)]
        await gate.wait()
        started = time.monotonic()
        response = await client.post(NOTIFY_PATH, content=body, headers=headers)
        latencies[index] = time.monotonic() - started
        statuses[index] = response.status_code

    try:
        tasks = [asyncio.create_task(one(i, body, headers)) for i, (body, headers) in enumerate(notices)]
        await asyncio.sleep(0.2)  # every task is waiting at the gate
        started = time.monotonic()
        gate.set()
        await asyncio.gather(*tasks)
        return time.monotonic() - started, latencies, statuses
    finally:
        for client in clients:
            await client.aclose()


def _ingest_round_trips(servers: Servers, *, posts: int, batch: int, prefix: str) -> list[float]:
    lot = bench_lots(1)[0]
    key = issue_keys([lot], "支付基准")[lot.code]
    plan = plan_batches([lot.code], batches_per_lot=posts + 1, batch_size=batch, seed=7, prefix=prefix)[lot.code]
    latencies = []
    with httpx.Client(base_url=servers.http_urls[0], timeout=60) as client:
        _post(client, key, plan[0])  # warm-up
        for events in plan[1:]:
            started = time.monotonic()
            _post(client, key, events)
            latencies.append(time.monotonic() - started)
    return latencies


def run(env, servers: Servers, *, orders: int = 200, runs: int = 3, ingest_posts: int = 40,
        say=print) -> PaymentsResult:
    result = PaymentsResult(orders=orders, runs=runs, servers=len(servers.ports))
    lots = bench_lots(10)
    notify_base = servers.http_urls[0]
    cpu = None
    for number in range(runs):
        prefix = f"p{uuid.uuid4().hex[:6]}"
        stays = _waiting_stays(lots, orders, run=number, prefix=prefix)
        say(f"payments: run {number + 1}/{runs}: {orders} orders…")
        made = [services.order_create(channel="sandbox", session_ids=[s.pk], notify_base=notify_base)[0]
                for s in stays]
        notices = _notices(made)
        say(f"payments: run {number + 1}/{runs}: {orders} notices at once…")
        with CpuMeter(servers=servers.pids) as meter:
            seconds, latencies, statuses = asyncio.run(_fire(servers.http_urls, notices))
        cpu = meter.percent
        result.seconds.append(seconds)
        result.latencies += latencies
        bad = [s for s in statuses if s != 200]
        if bad:
            result.problems.append(f"run {number + 1}: {len(bad)} notices answered {sorted(set(bad))}")
        paid = Order.objects.filter(pk__in=[o.pk for o in made], state=Order.State.PAID).count()
        owing = ParkingSession.objects.filter(pk__in=[s.pk for s in stays], due_fen__gt=0).count()
        entries = SessionMoneyEntry.objects.filter(session__in=stays, kind="payment").count()
        if (paid, owing, entries) != (orders, 0, orders):
            result.problems.append(f"run {number + 1}: {paid} orders paid, {owing} stays still owing, "
                                   f"{entries} payment rows (expected {orders}, 0, {orders})")
    if PaymentException.objects.exists():
        result.problems.append(f"{PaymentException.objects.count()} payment exceptions opened")
    result.cpu = cpu or {}
    say(f"payments: {ingest_posts} ingest POSTs of {result.ingest_batch} events, one after another…")
    result.ingest_latencies = _ingest_round_trips(servers, posts=ingest_posts, batch=result.ingest_batch,
                                                  prefix=f"pi{uuid.uuid4().hex[:6]}")
    if result.problems:
        raise BenchError("payments: " + "; ".join(result.problems))
    say(f"payments: {statistics.median(result.rates):,.0f} notices/s, p95 "
        f"{PaymentsResult.percentile(result.latencies, 95) * 1000:.0f} ms")
    return result
