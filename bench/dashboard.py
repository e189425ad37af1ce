"""The city's supervision dashboard (issue 11 item 4): ``GET /admin/analytics/dashboard/`` for a
city-wide member of staff, with a year of summaries for ``lots`` lots (8,400 by default).

Data, generated server-side by ``INSERT … SELECT`` over ``generate_series`` (no row crosses the
wire): lots up to ``lots`` (the seeded demo lots plus generated ones, spread over the districts and
40 state-owned operators), a ``LotDay`` per lot for each of the last 365 days (3.07 million rows for
8,400 lots), a ``LotHour`` per lot and hour for the last 28 days (5.6 million rows: the dashboard's
hour panel reads four weeks; a year of lot hours, 74 million rows, would only make the table larger
without changing what the page reads), then the region rollups for the year (``region_days_refresh``,
timed per day) and the lots' last four weeks (``lot_recent_refresh``), then ``ANALYZE``. With
``--keep-db`` and the summaries already there, they are reused (generating them takes ~15 minutes).

Measured: the page over HTTP (one keep-alive client, the time to the last byte), ``requests`` times
for the default period (30 days) and for a year (365 days), after one priming request each. Baseline,
same run, same client and session: the admin's index page (what any admin page costs here). A second
baseline in this process: the year's money-by-district panel aggregated straight from ``LotDay`` (no
rollup), ``requests // 4`` times: what the rollup saves.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module

import httpx
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from psycopg import sql

from .env import BenchError, CpuMeter, Servers

PATH = "/admin/analytics/dashboard/"
BASELINE_PATH = "/admin/"
GOAL_S = 1.0
YEAR_DAYS = 365
HOUR_DAYS = 28
OPERATORS = 40


@dataclass
class DashboardResult:
    lots: int
    lot_days: int
    lot_hours: int
    region_days: int
    rollup_day_s: list[float]
    page_30: list[float]
    page_365: list[float]
    baseline_index: list[float]
    baseline_lotday_s: list[float]
    rollup_money_s: list[float]
    page_bytes: int
    setup_s: float
    lot_recent_s: float
    cpu: dict[str, float] = field(default_factory=dict)


def _fill(env, lots: int, days: int, hour_days: int, say) -> tuple[int, int]:
    """Lots up to ``lots``, a year of lot days and four weeks of lot hours; returns the row counts."""
    from apps.analytics.models import LotDay, LotHour
    from apps.lots.models import ParkingLot
    from apps.regions.models import Operator, Region

    have = ParkingLot.objects.count()
    districts = list(Region.objects.filter(parent__level=Region.Level.CITY).values_list("pk", flat=True))
    if not districts:
        raise BenchError("no districts: the benchmark database was not seeded")
    if not Operator.objects.filter(name__startswith="看板基准运营").exists():
        Operator.objects.bulk_create([
            Operator(name=f"看板基准运营{n:02d}有限公司", credit_code=f"91320200BENCH{n:05d}", ownership="state_owned",
                     region_id=districts[n % len(districts)], settlement_account_no="6222020000000001")
            for n in range(OPERATORS)])
    operators = list(Operator.objects.filter(name__startswith="看板基准运营").values_list("pk", flat=True))
    if have < lots:
        say(f"dashboard: adding {lots - have} lots to the {have} seeded…")
        now = timezone.now()
        rows = [ParkingLot(code=f"DB-{n:05d}", name=f"看板基准停车场{n}", region_id=districts[n % len(districts)],
                           operator_id=operators[n % len(operators)], category="public", filing_status="filed",
                           compliance_level="standard", lat=31.45 + (n % 97) * 0.003, lon=120.15 + (n % 89) * 0.003,
                           total_berths=50 + n % 400, free_berths=10, allow_pay_later=n % 3 == 0,
                           last_seen_at=now, snapshot_at=now)
                for n in range(lots - have)]
        ParkingLot.objects.bulk_create(rows, batch_size=2000)
    lot_table, day_table, hour_table = (sql.Identifier(m._meta.db_table) for m in (ParkingLot, LotDay, LotHour))
    today = timezone.localdate()
    total = ParkingLot.objects.count()
    last = LotDay.objects.order_by("-day").values_list("day", flat=True).first()
    # (a run started just before local midnight may find its data ending the day before yesterday)
    if (last is not None and last >= today - timedelta(days=2)
            and LotDay.objects.count() == total * days and LotHour.objects.count() == total * hour_days * 24):
        say("dashboard: --keep-db and the summaries are already there: reusing them")
        return total * days, total * hour_days * 24
    with env.connect() as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("TRUNCATE {}, {}").format(day_table, hour_table))
        say(f"dashboard: {days} days of LotDay…")
        cur.execute(sql.SQL("""
            INSERT INTO {} (lot_id, day, region_id, operator_id, total_berths, entries, exits,
                sessions_closed, occupied_avg, peak_ratio, hours_over_90, online_minutes, billed_fen, paid_fen,
                waived_fen, arrears_new_fen, arrears_recovered_fen)
            SELECT l.id, d::date, l.region_id, l.operator_id, l.total_berths,
                   (l.total_berths * (1 + random() * 3))::int, (l.total_berths * (1 + random() * 3))::int,
                   (l.total_berths * (1 + random() * 3))::int, l.total_berths * (0.3 + random() * 0.5),
                   least(1.0, 0.5 + random() * 0.55), (random() * 4)::int, 1380 + (random() * 60)::int,
                   (l.total_berths * 800 * random())::bigint, (l.total_berths * 700 * random())::bigint,
                   (l.total_berths * 20 * random())::bigint, (l.total_berths * 80 * random())::bigint,
                   (l.total_berths * 40 * random())::bigint
            FROM {} l, generate_series(%s::date, %s::date, interval '1 day') d""").format(day_table, lot_table),
                    [today - timedelta(days=days), today - timedelta(days=1)])
        day_rows = cur.rowcount
        say(f"dashboard: {day_rows:,} lot days; {hour_days} days of LotHour…")
        cur.execute(sql.SQL("""
            INSERT INTO {} (lot_id, hour, weekday, hour_of_day, total_berths, occupied_avg, occupied_max,
                samples, entries, exits)
            SELECT l.id, h, extract(isodow FROM h AT TIME ZONE %s)::int - 1, extract(hour FROM h AT TIME ZONE %s)::int,
                   l.total_berths, l.total_berths * random(), l.total_berths, 12, (random() * 20)::int,
                   (random() * 20)::int
            FROM {} l, generate_series(%s::timestamptz, %s::timestamptz, interval '1 hour') h""").format(
                        hour_table, lot_table),
                    [settings.TIME_ZONE, settings.TIME_ZONE,
                     timezone.make_aware(timezone.datetime.combine(today - timedelta(days=hour_days),
                                                                   timezone.datetime.min.time())),
                     timezone.make_aware(timezone.datetime.combine(today, timezone.datetime.min.time()))
                     - timedelta(hours=1)])
        hour_rows = cur.rowcount
        conn.commit()
    return day_rows, hour_rows


def _session_cookie() -> str:
    """A logged-in session for a city-wide member of staff (not a superuser: the page's scope path)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    from apps.regions.models import StaffScope
    from apps.regions.services import staff_grant_default_permissions

    user, _ = get_user_model().objects.get_or_create(username="bench-city-dashboard", defaults={"is_staff": True})
    StaffScope.objects.get_or_create(user=user, defaults={"kind": StaffScope.Kind.CITY})
    staff_grant_default_permissions(user=user)
    # City-wide staff log in with a second factor (apps/common/mfa.py): the session is one that passed it.
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"  # the one that logs users in
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def _get(client: httpx.Client, url: str, cookie: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url, headers={"Cookie": cookie})
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {response.text[:300]!r}")
    return elapsed, len(response.content)


def _lotday_money_year(days: int) -> float:
    """The year's money by region straight from the lot days: the page's panel without the rollup."""
    from apps.analytics.models import LotDay

    today = timezone.localdate()
    started = time.perf_counter()
    list(LotDay.objects.filter(day__gte=today - timedelta(days=days), day__lt=today).values("region").annotate(
        billed=Sum("billed_fen"), paid=Sum("paid_fen"), waived=Sum("waived_fen"), arrears=Sum("arrears_new_fen"),
        recovered=Sum("arrears_recovered_fen")).order_by())
    return time.perf_counter() - started


def _rollup_money_year(days: int) -> float:
    from apps.analytics.models import RegionDay

    today = timezone.localdate()
    started = time.perf_counter()
    list(RegionDay.objects.filter(day__gte=today - timedelta(days=days), day__lt=today).values("region")
         .annotate(billed=Sum("billed_fen"), paid=Sum("paid_fen"), waived=Sum("waived_fen"),
                   arrears=Sum("arrears_new_fen"), recovered=Sum("arrears_recovered_fen")).order_by())
    return time.perf_counter() - started


def run(env, servers: Servers, *, lots: int = 8400, requests: int = 20, days: int = YEAR_DAYS,
        hour_days: int = HOUR_DAYS, say=print) -> DashboardResult:
    from apps.analytics.dashboards.rollup import lot_recent_refresh, region_days_refresh
    from apps.analytics.models import RegionDay
    from apps.lots.models import ParkingLot

    started = time.monotonic()
    lot_days, lot_hours = _fill(env, lots, days, hour_days, say)
    say("dashboard: region rollups for the year…")
    today = timezone.localdate()
    rollup_times = []
    for n in range(days, 0, -1):
        t0 = time.perf_counter()
        region_days_refresh(day=today - timedelta(days=n))
        rollup_times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    lot_recent_refresh(end=today)
    recent_s = time.perf_counter() - t0
    with env.connect(autocommit=True) as conn:
        conn.execute("ANALYZE")
    setup_s = time.monotonic() - started
    say(f"dashboard: data ready in {setup_s:.0f} s; timing {requests} requests of each…")
    cookie = _session_cookie()
    env.clear_cache()
    base = servers.http_urls[0]
    page_30, page_365, index = [], [], []
    with httpx.Client(base_url=base, timeout=60) as client, CpuMeter(servers=servers.pids) as meter:
        _get(client, BASELINE_PATH, cookie)
        _, size = _get(client, PATH, cookie)
        _get(client, f"{PATH}?days=365", cookie)
        for _ in range(requests):  # interleaved, so a busy moment of the machine falls on all three alike
            index.append(_get(client, BASELINE_PATH, cookie)[0])
            page_30.append(_get(client, PATH, cookie)[0])
            page_365.append(_get(client, f"{PATH}?days=365", cookie)[0])
    direct = [_lotday_money_year(days) for _ in range(max(3, requests // 4))]
    rolled = [_rollup_money_year(days) for _ in range(max(3, requests // 4))]
    result = DashboardResult(
        lots=ParkingLot.objects.count(), lot_days=lot_days, lot_hours=lot_hours,
        region_days=RegionDay.objects.count(), rollup_day_s=rollup_times, page_30=page_30, page_365=page_365,
        baseline_index=index, baseline_lotday_s=direct, rollup_money_s=rolled, page_bytes=size, setup_s=setup_s,
        lot_recent_s=recent_s,
        cpu=meter.percent)
    say(f"dashboard: 30 days median {statistics.median(page_30) * 1000:.0f} ms, "
        f"365 days median {statistics.median(page_365) * 1000:.0f} ms, "
        f"admin index median {statistics.median(index) * 1000:.0f} ms")
    return result
