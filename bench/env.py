"""Where the benchmarks run: their database and Redis, the ASGI server processes, the machine.

Everything stays on 127.0.0.1. The benchmark database is the benchmarks' own: it is dropped and
recreated on each full run, so it must never be a database anything else uses. ``DATABASE_URL``
from the environment is honoured for the server, user and password, but a database name without
"bench" in it gets ``_bench`` appended (``…/wuxi_parking`` → ``…/wuxi_parking_bench``). Redis is
shared safely through the key prefix in ``bench.settings``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
REDIS_PREFIX = "wxp-bench"
SETTINGS_MODULE = "bench.settings"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/wuxi_parking_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """Something a benchmark depends on is missing or broken; the message says what."""


def bench_database_url(from_env: str | None) -> tuple[str, str | None]:
    """The benchmark database URL and, when it differs from the environment's, a note saying why."""
    if not from_env:
        return DEFAULT_DATABASE_URL, None
    parts = urlsplit(from_env)
    name = parts.path.lstrip("/")
    if "bench" in name:
        return from_env, None
    url = urlunsplit(parts._replace(path=f"/{name}_bench"))
    return url, f"DATABASE_URL names {name!r}; the benchmarks drop and recreate their own database {name}_bench"


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise BenchError(f"benchmarks only use 127.0.0.1; {url.split('@')[-1]} is not local")


@dataclass
class BenchEnv:
    database_url: str
    redis_url: str
    secret_key: str
    device_secret_key: str = ""
    log_dir: Path = field(default_factory=lambda: REPO / "var" / "bench")

    def __post_init__(self):
        require_loopback(self.database_url)
        require_loopback(self.redis_url)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, *, database_url: str, redis_url: str) -> BenchEnv:
        """The servers must decrypt the device secrets this process issues: same keys as ours.
        Production settings insist on a DEVICE_SECRET_KEY; a process without one derives its key
        from SECRET_KEY, and passing SECRET_KEY as DEVICE_SECRET_KEY derives the same one."""
        from django.conf import settings

        return cls(database_url=database_url, redis_url=redis_url, secret_key=settings.SECRET_KEY,
                   device_secret_key=os.environ.get("DEVICE_SECRET_KEY") or settings.SECRET_KEY)

    def process_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": self.secret_key,
            "DEVICE_SECRET_KEY": self.device_secret_key,
            "PLATE_HASH_SALT": os.environ.get("PLATE_HASH_SALT") or "bench-plate-salt",
            # Production settings want the site's public address (WeChat links); loopback here.
            "WECHAT_SITE_URL": os.environ.get("WECHAT_SITE_URL") or "http://127.0.0.1",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        })
        return env

    def psycopg_conninfo(self) -> str:
        return self.database_url.replace("postgres://", "postgresql://", 1)

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.psycopg_conninfo(), **kwargs)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def clear_cache(self) -> int:
        """Delete the benchmark servers' cache entries (not the channel layer's keys)."""
        client = self.redis()
        keys = [key for key in client.scan_iter(match=f"{REDIS_PREFIX}:*", count=1000)
                if not key.decode(errors="replace").startswith(f"{REDIS_PREFIX}:group")
                and b"asgi" not in key]
        if keys:
            client.delete(*keys)
        return len(keys)


# --- the database ---------------------------------------------------------------------------

def recreate_database(env: BenchEnv) -> None:
    parts = urlsplit(env.psycopg_conninfo())
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise BenchError(f"refusing to drop {name!r}: only a database named *bench* is recreated")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is not answering: {exc}") from exc


def manage(env: BenchEnv, *args: str, timeout: float = 900) -> str:
    """Run ``manage.py`` against the benchmark database; its output, or a BenchError with the tail."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env.process_env(),
                            capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise BenchError(f"manage.py {' '.join(args)} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def lot_count(env: BenchEnv) -> int:
    with env.connect() as conn:
        from apps.lots.models import ParkingLot

        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(ParkingLot._meta.db_table))
        return conn.execute(query).fetchone()[0]


def prepare(env: BenchEnv, *, lots: int, recreate: bool = True, migrate: bool = True, seed: int = 1,
            say=print) -> None:
    """A database with ``lots`` demo lots: recreated, migrated and seeded unless told otherwise."""
    if recreate:
        say("recreating the benchmark database…")
        recreate_database(env)
    if migrate:
        say("migrating…")
        manage(env, "migrate", "--noinput")
    have = lot_count(env)
    if have < lots:
        say(f"seeding {lots} lots with seed_demo…")
        started = time.monotonic()
        manage(env, "seed_demo", "--lots", str(lots), "--seed", str(seed))
        say(f"seeded in {time.monotonic() - started:.0f} s ({lot_count(env)} lots)")
    seed_history(env, say=say)
    # Planner statistics as a database that has been running would have them (autovacuum may be
    # off, and would not have caught up with a database seeded a moment ago anyway).
    with env.connect(autocommit=True) as conn:
        conn.execute("ANALYZE")


# A running city's tables are never empty. Past stays give the sessions table (which every ingest
# batch's foreign-key checks read, and which a new event's session link points into) the size of
# a few weeks of traffic before the first timed batch: a server's pooled connection plans those
# checks once, at its first use, and an empty table gets a sequential scan that it keeps for the
# connection's lifetime, each check then reading every row the runs have added.
HISTORY_STAYS_PER_LOT = 40  # 200,000 for the 5,000 lots of a full run
HISTORY_PREFIX = "hist-"  # their entry and exit event ids begin with it


def seed_history(env: BenchEnv, *, say=print) -> None:
    """Closed stays of the past 30 days, ``HISTORY_STAYS_PER_LOT`` a lot, unless the database has as many."""
    table = sql.Identifier("parking_sessions_parkingsession")
    sessions = HISTORY_STAYS_PER_LOT * lot_count(env)
    with env.connect(autocommit=True) as conn:
        have = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
        if have >= sessions:
            return
        say(f"adding {sessions - have:,} past stays…")
        conn.execute(sql.SQL("""
            WITH lots AS (SELECT array_agg(id ORDER BY id) AS ids FROM lots_parkinglot)
            INSERT INTO {} (lot_id, plate, ticket_id, plate_color, vehicle_class, new_energy, entry_at, exit_at,
                            closed_at, amount_fen, paid_fen, waived_fen, due_fen, state, release_reason,
                            entry_event_id, exit_event_id, created_at, updated_at)
            SELECT lots.ids[1 + g %% cardinality(lots.ids)], '苏H' || lpad((g %% 100000)::text, 5, '0'), '', 'blue',
                   'small', false, t, t + interval '90 minutes', t + interval '90 minutes', 500, 500, 0, 0,
                   'closed', 'paid', %s || 'e' || g, %s || 'x' || g, t, t + interval '90 minutes'
            FROM lots, generate_series(1, %s) AS g,
                 LATERAL (SELECT now() - interval '30 days' + (g * interval '30 days') / %s) AS at(t)
        """).format(table), [HISTORY_PREFIX, HISTORY_PREFIX, sessions - have, sessions])


# The tables an ingest batch writes, and those its foreign keys point at.
INGEST_TABLES = ("lots_parkinglot", "lots_device", "berths_berth", "parking_sessions_parkingsession",
                 "parking_sessions_ingestevent", "parking_sessions_sessionmoneyentry", "parking_sessions_arrears")


def settle(env: BenchEnv) -> bool:
    """Between timed runs, what autovacuum would have done on a server where it is on: on one where
    it is off (as this machine's PostgreSQL ships), ``VACUUM (ANALYZE)`` the tables ingest writes, so
    one run's dead rows and stale statistics (and the plans the servers' connections made from
    them, which an ANALYZE invalidates) do not charge the next. Returns whether it vacuumed."""
    with env.connect(autocommit=True) as conn:
        if conn.execute("SHOW autovacuum").fetchone()[0] == "on":
            return False
        for name in INGEST_TABLES:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(name)))
    return True


# --- servers --------------------------------------------------------------------------------

def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a child process this benchmark started: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Servers:
    """``count`` daphne processes serving the project's ASGI app on 127.0.0.1, one port each.

    Daphne runs Django's synchronous views in one thread per process, so on this 2-core machine two
    processes are what lets two requests (or one request and the WebSocket fan-out) run at once;
    more processes would only queue for the same cores. Access logging is off (``-v 0``): in
    production the load balancer logs requests.
    """

    def __init__(self, env: BenchEnv, count: int = 2, *, ready_timeout: float = 60.0):
        self.env = env
        self.count = count
        self.ready_timeout = ready_timeout
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self._logs = []

    @property
    def http_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def ws_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{port}" for port in self.ports]

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def __enter__(self) -> Servers:
        try:
            for index in range(self.count):
                port = free_port()
                log = open(self.env.log_dir / f"daphne-{index}.log", "w")  # closed in stop()
                self._logs.append(log)
                proc = subprocess.Popen(
                    [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port),
                     "wuxi_parking.asgi:application"],
                    cwd=REPO, env=self.env.process_env(), stdout=log, stderr=subprocess.STDOUT)
                self.procs.append(proc)
                self.ports.append(port)
            for index, url in enumerate(self.http_urls):
                self._wait_ready(index, url)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_ready(self, index: int, url: str) -> None:
        deadline = time.monotonic() + self.ready_timeout
        probe = f"{url}/api/v1/lots/?page_size=1"
        while time.monotonic() < deadline:
            if self.procs[index].poll() is not None:
                raise BenchError(f"daphne on {url} exited with code {self.procs[index].returncode}:\n"
                                 f"{self.log_tail(index)}")
            try:
                response = httpx.get(probe, timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            if response.status_code >= 500:
                raise BenchError(f"{probe} answered {response.status_code}:\n{self.log_tail(index)}")
            return
        raise BenchError(f"daphne on {url} did not answer within {self.ready_timeout:.0f} s:\n{self.log_tail(index)}")

    def log_tail(self, index: int, lines: int = 20) -> str:
        path = self.env.log_dir / f"daphne-{index}.log"
        with contextlib.suppress(OSError):
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        for proc in self.procs:  # all asked at once, so they shut down in parallel
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            stop_process(proc)
        for log in self._logs:
            log.close()
        self._logs.clear()


# --- the machine ----------------------------------------------------------------------------

def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def machine_notes(env: BenchEnv) -> dict[str, str]:
    import daphne
    import django

    with env.connect() as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    redis_version = env.redis().info("server").get("redis_version", "?")
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %z"),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "ram": f"{_ram_gib():.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "daphne": daphne.__version__,
        "postgresql": postgres,
        "redis": redis_version,
    }


# --- where the CPU went ---------------------------------------------------------------------

def _proc_ticks(pid: int) -> int:
    """CPU ticks of a process plus those of its children it has reaped (a PostgreSQL backend that
    served one request and exited is counted through the postmaster that reaped it)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        return sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return 0


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU used by each part of a benchmark over an interval, in % of one core.

    Processes are found by pid (ours) or by name (PostgreSQL, Redis) at both ends of the interval;
    one that appeared meanwhile counts in full, one that exited counts through its parent's
    reaped-children time when the parent is in the group (PostgreSQL's postmaster).
    """

    def __init__(self, *, servers: list[int], clients: list[int] | None = None):
        self.groups = {"ASGI servers": lambda: servers, "client": lambda: [os.getpid(), *(clients or [])],
                       "PostgreSQL": lambda: _pids_named("postgres"), "Redis": lambda: _pids_named("redis-server")}

    def _sample(self) -> dict[str, dict[int, int]]:
        return {group: {pid: _proc_ticks(pid) for pid in pids()} for group, pids in self.groups.items()}

    @staticmethod
    def _machine() -> tuple[int, int]:
        """(busy, iowait) ticks of the whole machine, all cores."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
            idle, iowait = values[3], values[4]
            return sum(values[:8]) - idle - iowait, iowait
        return 0, 0

    def __enter__(self) -> CpuMeter:
        self.start()
        return self

    def start(self) -> None:
        self._start, self._machine_start, self._t0 = self._sample(), self._machine(), time.monotonic()

    def __exit__(self, *exc) -> None:
        end, elapsed = self._sample(), max(time.monotonic() - self._t0, 1e-9)
        self.percent = {}
        for group, ticks in end.items():
            used = sum(t - self._start[group].get(pid, 0) for pid, t in ticks.items())
            self.percent[group] = 100.0 * used / CLK_TCK / elapsed
        # Whatever else ran meanwhile (a benchmark on a shared machine is only as quiet as it is).
        busy, iowait = (end_ - start_ for end_, start_ in zip(self._machine(), self._machine_start, strict=True))
        self.percent["other processes"] = max(0.0, 100.0 * busy / CLK_TCK / elapsed - sum(self.percent.values()))
        self.percent["I/O wait"] = 100.0 * iowait / CLK_TCK / elapsed

    def summary(self) -> str:
        return ", ".join(f"{group} {pct:.0f}%" for group, pct in self.percent.items())
