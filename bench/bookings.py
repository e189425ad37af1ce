"""Bookings for one hot slot (issue 9): bookings per second and their p95 under ``clients``
concurrent clients on PostgreSQL, beside a plain read of the same slot in the same run.

The clients are threads of this process, each with its own database connection, calling the
booking service (``reservation_book``: the plate check, the site's rules, the one-a-day check,
the conditional UPDATE that takes the place and the insert) as the API view does; every client
books with plates of its own, so all contention is on the one slot row. The slot's quota is large
enough that nobody is refused for want of a place during the run. Baseline, same run, same
clients: reading the slot and its ``remaining`` (one SELECT). HTTP and DRF are left out on both
sides: what is measured is the database work a booking costs under contention. Each client's first
call (which opens its database connection) is warm-up and not counted.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from .env import CpuMeter, Servers


@dataclass
class Phase:
    operations: int
    seconds: float
    latencies: list[float]
    refused: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    done: int = 0  # every call that succeeded, warm-up included (what the slot's counter must say)

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


@dataclass
class BookingsResult:
    clients: int
    seconds: float
    bookings: Phase
    reads: Phase
    booked_in_db: int


def _plates(client: int, count: int) -> list[str]:
    letter = "ABCDEFGHJKLMNPQRSTUVWXYZ"[client % 24]
    return [f"苏{letter}{client // 24}{n:04d}" for n in range(count)]


def _run_clients(clients: int, seconds: float, work) -> Phase:
    """``work(client, n)`` as often as each client can for ``seconds``, all starting together."""
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    done = [0] * clients
    refused: dict[str, int] = {}
    lock = threading.Lock()
    stop_at: list[float] = []

    def run(client: int) -> None:
        from apps.common.errors import DomainError

        try:
            barrier.wait()
            n = 0
            while time.monotonic() < stop_at[0]:
                started = time.monotonic()
                try:
                    work(client, n)
                    done[client] += 1
                    if n:  # each client's first call opens its connection: warm-up, not counted
                        latencies[client].append(time.monotonic() - started)
                except DomainError as exc:
                    with lock:
                        refused[exc.code] = refused.get(exc.code, 0) + 1
                n += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at.append(time.monotonic() + seconds + 0.5)
    barrier.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    elapsed = time.monotonic() - began
    flat = [x for per in latencies for x in per]
    return Phase(operations=len(flat), seconds=elapsed, latencies=flat, refused=refused, done=sum(done))


def run(env, servers: Servers, *, clients: int = 100, seconds: float = 10.0, say=print) -> BookingsResult:
    from django.contrib.auth import get_user_model

    from apps.common.citizens import register_bound_plates
    from apps.lots.models import ParkingLot
    from apps.reservations.models import BookingSite, Slot
    from apps.reservations.services import reservation_book

    lot = ParkingLot.objects.order_by("code").first()
    site = BookingSite.objects.create(name="基准测试医院", lot=lot, booking_window_days=7)
    starts = timezone.now() + timedelta(days=1)
    slot = Slot.objects.create(hospital=site, starts_at=starts, ends_at=starts + timedelta(hours=1), quota=10**7)
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"bench-patient-{slot.pk}-{i}") for i in range(clients)])
    plates = {user.pk: _plates(i, 10_000) for i, user in enumerate(users)}  # a plate books once a day
    register_bound_plates(lambda user: plates[user.pk])
    try:
        say(f"bookings: {clients} clients booking one slot for {seconds:.0f} s…")
        with CpuMeter(servers=[]) as meter:
            booked = _run_clients(clients, seconds, lambda c, n: reservation_book(
                user=users[c], slot_id=slot.pk, plate=plates[users[c].pk][n]))
        booked.cpu = meter.percent
        say(f"bookings: {booked.rate:,.0f}/s, p95 {booked.p95 * 1000:.0f} ms; reading the same slot…")
        with CpuMeter(servers=[]) as meter:
            read = _run_clients(clients, seconds, lambda c, n: Slot.objects.get(pk=slot.pk).remaining)
        read.cpu = meter.percent
    finally:
        register_bound_plates(None)
    slot.refresh_from_db()
    return BookingsResult(clients=clients, seconds=seconds, bookings=booked, reads=read, booked_in_db=slot.booked)
