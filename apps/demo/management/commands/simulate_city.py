"""Drive the platform like a city's lot systems would: signed batches through the real ingest API.

The model (who parks where and when, plates, outages) is ``apps.demo.simulation``; this command
only picks the lots, gets each simulated lot system its credentials, runs the clock and does the
HTTP. It never writes events to the database itself: everything goes through
``POST /api/v1/ingest/events`` (SPEC §3), so what the map shows is what the API accepted.

Credentials: one device per simulated lot system, named ``模拟器 <lot code>``. The simulator runs on
the same machine and database as the server, so it reuses an existing simulator device by
decrypting its stored secret (or issues one through ``device_issue``); secrets stay in memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import secrets
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.berths.models import Berth
from apps.demo.bookings import SimulatedPatients
from apps.demo.guard import refuse_production
from apps.demo.payers import Payers
from apps.demo.simulation import CityModel, Dispatcher, LotSpec, ParkedCar, Vehicle
from apps.lots.credentials import decrypt_secret
from apps.lots.models import Device, ParkingLot
from apps.lots.services import device_issue, device_rotate_secret
from apps.sessions.models import ParkingSession
from apps.sessions.signing import signed_headers

INGEST_PATH = "/api/v1/ingest/events"
DEVICE_PREFIX = "模拟器 "
TICK_S = 1.0
REPORT_EVERY_S = 10.0
PATIENTS_EVERY_S = 20.0  # how often the booking sites' patients book and arrive
MAX_BACKOFF_S = 30.0
REJECTION_LINES_PER_REPORT = 10
# Without --lots the whole demo city moves; past this many lots, issuing a device per lot at start
# and stepping every lot each second stop being quick, so a bigger city needs --lots explicitly.
DEFAULT_MAX_LOTS = 1000


@dataclass
class Stats:
    events: int = 0
    requests: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed_requests: int = 0
    codes: Counter = field(default_factory=Counter)
    releases: Counter = field(default_factory=Counter)


class _Retry(Exception):
    """The batch was not processed (server down, 5xx, rate limited): send it again later."""


class Command(BaseCommand):
    help = gettext_lazy("模拟全市停车场系统：按真实作息通过签名接入接口推送入场、出场、泊位、余位和心跳事件")

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=float, default=20.0,
                            help=_("每秒事件数上限（车辆进出；预热补发和心跳另计）"))
        parser.add_argument("--lots", type=int, default=None,
                            help=_("模拟的停车场数量（默认全部开放的停车场，最多 %(max)d 个）")
                            % {"max": DEFAULT_MAX_LOTS})
        parser.add_argument("--url", default="http://127.0.0.1:8000", help=_("平台地址"))
        parser.add_argument("--seed", type=int, default=None, help=_("随机种子（可复现的城市）"))
        parser.add_argument("--duration", type=float, default=0.0, help=_("运行秒数，0 表示一直运行"))
        parser.add_argument("--speed", type=float, default=1.0,
                            help=_("作息时钟倍速（60 = 一分钟走完一小时；事件时间仍为真实时间）"))
        parser.add_argument("--pay-rate", type=float, default=1.0,
                            help=_("每秒最多几位司机扫码缴费（经模拟收银台；0 表示不缴费）"))
        parser.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                            help=_("只模拟按编码排序后序号除以 N 余 K 的停车场：几个模拟器进程分担一座城市，互不重叠"))

    def handle(self, *args, rate, lots, url, seed, duration, speed, pay_rate=1.0, shard=(0, 1), **options):
        refuse_production()
        lots = DEFAULT_MAX_LOTS if lots is None else lots
        if rate <= 0 or speed <= 0 or lots <= 0:
            raise CommandError(_("--rate、--speed 和 --lots 须为正数"))
        self.shard = shard
        rng = random.Random(seed)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the report
        self.stopping = False
        self.endpoint = url.rstrip("/") + INGEST_PATH
        self.sign_path = urlsplit(self.endpoint).path
        self.stats = Stats()
        self._rejection_lines = 0

        chosen = self._pick_lots(lots, rng)
        self.credentials = self._credentials(chosen)
        specs = self._specs(chosen)
        now = timezone.now()
        # Event ids must stay unique across runs with the same seed: the prefix comes from the OS.
        model = CityModel(specs, rng=rng, rate=rate, start=now, speed=speed,
                          id_prefix=f"sim{secrets.token_hex(4)}")
        self.model = model
        resumed = self._resume(model, chosen)
        # Patients at the booking sites: they book, drive in inside their window, a few never come.
        self.patients = SimulatedPatients(rng=rng, lot_codes={lot.code for lot in chosen})
        self._next_patients = 0.0
        dispatcher = Dispatcher([spec.code for spec in specs], rng=rng, now=now)

        self.client = httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0),
                                   limits=httpx.Limits(max_keepalive_connections=4, max_connections=4),
                                   headers={"Content-Type": "application/json"})
        # The drivers paying at the lots' codes: a phone of their own (cookies, the cashier's form).
        self.payers = Payers(client=httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0)), base=url.rstrip("/"),
                             rng=random.Random(rng.random()), rate=pay_rate) if pay_rate > 0 else None
        previous_handler = signal.signal(signal.SIGTERM, self._stop)  # run_city stops us with SIGTERM
        try:
            self._say(_("模拟 %(n)d 个停车场（%(devices)d 个模拟器设备），每秒最多 %(rate)s 条进出事件，"
                        "时钟倍速 %(speed)s，接续在场车辆 %(resumed)d 辆")
                      % {"n": len(specs), "devices": len(self.credentials), "rate": rate, "speed": speed,
                         "resumed": resumed})
            if not self._wait_for_server(url):
                return
            warm = model.warm_start(timezone.now())
            dispatcher.add(warm)
            self._say(_("预热：补发 %(n)d 条事件（已在场车辆的入场与各场余位快照）") % {"n": len(warm)})
            self._run(model, dispatcher, duration)
        except KeyboardInterrupt:
            self.stopping = True
        finally:
            self.client.close()
            if self.payers is not None:
                self.payers.client.close()
            self._report(model, dispatcher, final=True)
            signal.signal(signal.SIGTERM, previous_handler)

    # --- setup ---

    def _stop(self, *_args):
        self.stopping = True

    def _pick_lots(self, n: int, rng: random.Random) -> list[ParkingLot]:
        candidates = list(ParkingLot.objects.filter(status=ParkingLot.Status.OPEN, total_berths__gt=0)
                          .order_by("code"))
        index, count = self.shard
        candidates = candidates[index::count]
        if not candidates:
            raise CommandError(_("没有可模拟的停车场：请先运行 manage.py seed_demo"))
        return sorted(rng.sample(candidates, min(n, len(candidates))), key=lambda lot: lot.code)

    def _credentials(self, lots: list[ParkingLot]) -> dict[str, tuple[str, str]]:
        """(access key, secret) per lot code; issues the missing simulator devices."""
        by_lot: dict[int, Device] = {}
        existing = (Device.objects.filter(name__startswith=DEVICE_PREFIX, revoked_at__isnull=True)
                    .prefetch_related("lots").order_by("-issued_at"))
        for device in existing:
            for lot in device.lots.all():
                by_lot.setdefault(lot.pk, device)
        credentials: dict[str, tuple[str, str]] = {}
        issued = 0
        for lot in lots:
            device = by_lot.get(lot.pk)
            if device is None:
                device, secret = device_issue(name=f"{DEVICE_PREFIX}{lot.code}", lots=[lot])
                issued += 1
            else:
                try:
                    secret = decrypt_secret(device.secret_encrypted)
                except InvalidToken:  # issued under another SECRET_KEY: give it a new secret
                    secret = device_rotate_secret(device=device)
            credentials[lot.code] = (device.access_key, secret)
        if issued:
            self._say(_("已签发 %(n)d 个模拟器设备密钥") % {"n": issued})
        return credentials

    def _specs(self, lots: list[ParkingLot]) -> list[LotSpec]:
        berths: dict[int, list[str]] = {}
        rows = (Berth.objects.filter(lot__in=lots, lot__kind=ParkingLot.Kind.ON_STREET)
                .exclude(state=Berth.State.OUT_OF_SERVICE).order_by("code").values_list("lot_id", "code"))
        for lot_id, code in rows:
            berths.setdefault(lot_id, []).append(code)
        return [LotSpec(code=lot.code, kind=lot.kind, category=lot.category, total_berths=lot.total_berths,
                        berth_codes=tuple(berths.get(lot.pk, ()))) for lot in lots]

    def _resume(self, model: CityModel, lots: list[ParkingLot]) -> int:
        """Cars an earlier run left parked (open sessions) stay in the model and leave properly."""
        codes = {lot.pk: lot.code for lot in lots}
        rows = (ParkingSession.objects.filter(lot_id__in=codes, state=ParkingSession.State.OPEN,
                                              entry_at__isnull=False)
                .order_by("entry_at")
                .values_list("lot_id", "plate", "ticket_id", "plate_color", "vehicle_class", "entry_at",
                             "berth__code"))
        cars: dict[str, list[ParkedCar]] = {}
        for lot_id, plate, ticket_id, color, vehicle_class, entry_at, berth_code in rows:
            vehicle = Vehicle(plate=plate, plate_color=color or None, vehicle_class=vehicle_class,
                              ticket_id=None if plate else ticket_id)
            cars.setdefault(codes[lot_id], []).append(ParkedCar(vehicle, entry_at, berth_code))
        for code, parked in cars.items():
            model.resume(code, parked)
        return sum(model.occupied(code) for code in codes.values())

    def _wait_for_server(self, url: str) -> bool:
        delay = 1.0
        while not self.stopping:
            try:
                self.client.get(url.rstrip("/") + "/api/v1/lots/", params={"page_size": 1})
                return True
            except httpx.TransportError as exc:
                self._say(_("平台 %(url)s 尚未就绪（%(error)s），%(delay).0f 秒后重试")
                          % {"url": url, "error": exc.__class__.__name__, "delay": delay})
                self._sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
        return False

    # --- running ---

    def _run(self, model: CityModel, dispatcher: Dispatcher, duration: float) -> None:
        started = time.monotonic()
        deadline = started + duration if duration else float("inf")
        self._next_report = started + REPORT_EVERY_S
        backoff = 0.0
        while not self.stopping and time.monotonic() < deadline:
            tick = time.monotonic()
            now = timezone.now()
            dispatcher.add(model.step(now))
            if tick >= self._next_patients:
                dispatcher.add(self._patients_step(model, now))
                self._next_patients = tick + PATIENTS_EVERY_S
            if self.payers is not None:
                self.payers.tick(now, model, lambda _code, events: dispatcher.add(events))
            batches = dispatcher.due(now, model.heartbeat_event)
            for index, (code, batch) in enumerate(batches):
                try:
                    if self.stopping or time.monotonic() >= deadline:
                        raise _Retry(_("正在停止"))
                    self._post(code, batch)
                    backoff = 0.0
                except _Retry as exc:
                    # Everything not delivered goes back, newest first, so each outbox keeps its order.
                    for unsent_code, unsent in reversed(batches[index:]):
                        dispatcher.requeue(unsent_code, unsent)
                    if self.stopping or time.monotonic() >= deadline:
                        break
                    backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF_S)
                    self._say(_("发送失败（%(error)s），%(delay).0f 秒后重试") % {"error": exc, "delay": backoff})
                    self._sleep(min(backoff, deadline - time.monotonic()))
                    break
                self._maybe_report(model, dispatcher)  # a long backlog (the warm start) still reports
            self._maybe_report(model, dispatcher)
            self._sleep(min(TICK_S - (time.monotonic() - tick), deadline - time.monotonic()))

    def _patients_step(self, model: CityModel, now) -> list[dict]:
        self.patients.book_some(now=now)
        events = []
        for code, plate in self.patients.arriving(now=now):
            events += model.arrive_booked(code, plate, now)
        return events

    def _maybe_report(self, model: CityModel, dispatcher: Dispatcher) -> None:
        if time.monotonic() >= self._next_report:
            self._report(model, dispatcher)
            self._next_report = time.monotonic() + REPORT_EVERY_S

    def _post(self, code: str, batch: list[dict]) -> None:
        access_key, secret = self.credentials[code]
        body = json.dumps({"events": batch}, ensure_ascii=False, separators=(",", ":")).encode()
        headers = signed_headers(access_key, secret, "POST", self.sign_path, body)
        try:
            response = self.client.post(self.endpoint, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise _Retry(exc.__class__.__name__) from exc
        self.stats.requests += 1
        if response.status_code >= 500 or response.status_code == 429:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code != 200:
            # The whole request was refused (signature, size, body): resending it unchanged won't help.
            self.stats.failed_requests += 1
            error = _error_code(response)
            self.stats.codes[error] += len(batch)
            self.stats.rejected += len(batch)
            self._rejection(_("%(lot)s 的 %(n)d 条事件被整批拒绝：HTTP %(status)d %(code)s")
                            % {"lot": code, "n": len(batch), "status": response.status_code, "code": error})
            return
        self.stats.events += len(batch)
        data = response.json()
        self.stats.accepted += data.get("accepted", 0)
        self.stats.duplicates += data.get("duplicates", 0)
        self.stats.rejected += data.get("rejected", 0)
        unpaid = False
        for event, result in zip(batch, data.get("results", []), strict=False):
            if result.get("status") == "rejected":
                error = (result.get("error") or {}).get("code", "?")
                self.stats.codes[error] += 1
                self._rejection(_("拒绝 %(lot)s %(type)s %(id)s：%(code)s %(message)s") % {
                    "lot": code, "type": event["type"], "id": event["event_id"], "code": error,
                    "message": (result.get("error") or {}).get("message", "")})
            session = result.get("session")
            if session:
                self.stats.releases[session.get("release_reason") or "?"] += 1
                if session.get("release") is False:
                    unpaid = True
                    if self.payers is not None and event.get("plate"):
                        self.payers.stopped_at_barrier(code, event, session, timezone.now())
        if unpaid:
            self.model.report_status_soon(code)

    def _rejection(self, line: str) -> None:
        if self._rejection_lines < REJECTION_LINES_PER_REPORT:
            self.stderr.write(line)
        self._rejection_lines += 1

    def _report(self, model: CityModel, dispatcher: Dispatcher, *, final: bool = False) -> None:
        stats = self.stats
        parked = sum(model.occupied(code) for code in model.lots)
        line = _("已发送 %(events)d 条事件 / %(requests)d 个请求：接受 %(accepted)d，重复 %(duplicates)d，"
                 "拒绝 %(rejected)d；在场 %(parked)d 辆，待发 %(pending)d 条，离线 %(offline)d 个停车场") % {
            "events": stats.events, "requests": stats.requests, "accepted": stats.accepted,
            "duplicates": stats.duplicates, "rejected": stats.rejected, "parked": parked,
            "pending": dispatcher.pending(), "offline": len(dispatcher.offline(timezone.now()))}
        if stats.releases:
            line += _("；出场放行 ") + ", ".join(f"{k} {v}" for k, v in stats.releases.most_common())
        if self.payers is not None and (self.payers.stats.paid or self.payers.stats.never):
            paying = self.payers.stats
            line += _("；扫码缴费 %(n)d 笔 ¥%(yuan).2f（其中场内先缴 %(parked)d 笔），未缴离场 %(never)d，"
                      "缴费失败 %(failed)d") % {"n": paying.paid, "yuan": paying.paid_fen / 100,
                                             "parked": paying.while_parked, "never": paying.never,
                                             "failed": paying.failed}
        if stats.codes:
            line += _("；拒绝原因 ") + ", ".join(f"{k} {v}" for k, v in stats.codes.most_common())
        if self._rejection_lines > REJECTION_LINES_PER_REPORT:
            line += _("（另有 %(n)d 条拒绝未逐条列出）") % {"n": self._rejection_lines - REJECTION_LINES_PER_REPORT}
        self._rejection_lines = 0
        self._say((_("模拟结束：") if final else "") + line)

    def _say(self, line: str) -> None:
        self.stdout.write(f"[{timezone.localtime():%H:%M:%S}] {line}")

    def _sleep(self, seconds: float) -> None:
        """Sleep in short slices so SIGTERM stops the simulator promptly."""
        end = time.monotonic() + max(0.0, seconds)
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))


def _shard(value: str) -> tuple[int, int]:
    """``K/N`` → (K, N), with 0 ≤ K < N."""
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(_("分片须写作 K/N，如 0/4")) from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(_("分片须满足 0 ≤ K < N")) from None
    return index, count


def _error_code(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"http_{response.status_code}"
