"""Throwaway PostgreSQL and Redis servers, and a server process on them, for the outage drills.

The machine's own PostgreSQL and Redis are shared (other test runs use them), so a drill never stops
those: it starts a server of its own on a free loopback port, in a temporary directory, and stops
and starts that one.

- ``ThrowawayPostgres``: ``initdb`` into a directory owned by ``postgres`` (PostgreSQL refuses to
  run as root; the tests run as root in CI, hence ``runuser``), ``pg_ctl`` start/stop.
- ``ThrowawayRedis``: ``redis-server --port N --save ''`` (nothing written to disk).
- ``ServerProcess``: the project's ASGI application under daphne (tests/realtime/serve.py) with the
  environment pointing it at those servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "tests" / "realtime" / "serve.py"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
from tests.required import missing  # noqa: E402  (skipped locally, a failure under CI=true)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: str, **kwargs) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, **kwargs)


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own: nothing else connects to it, so stopping it is safe."""

    def __init__(self):
        for tool in ("initdb", "pg_ctl", "pg_dump", "psql"):
            if not (PG_BIN / tool).exists():
                missing(f"needs PostgreSQL's server binaries ({PG_BIN / tool})")
        # Straight under /tmp: pytest's tmp_path sits in a root-only directory postgres cannot enter.
        directory = Path(tempfile.mkdtemp(prefix="wxp-drill-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(directory)
                missing("needs the postgres system user to run a throwaway PostgreSQL as root")
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        # fsync off and no sync at initdb: a drill's cluster is thrown away, durability is not its point
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                     "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off")
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                     str(self.directory / "server.log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """A fast shutdown, as ``systemctl restart postgresql`` does: sessions are ended, the server goes."""
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"],
                              capture_output=True, check=False)
        return done.returncode == 0

    def copy_database(self, *, source: dict, name: str) -> None:
        """A database here holding what ``source`` (Django's connection settings) holds: its migrated
        schema and committed rows, through ``pg_dump | psql``. Migrating from nothing would take
        10–30 s; the run's test database was migrated by this run already."""
        env = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
        subprocess.run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-d", "postgres", "-q", "-c", f'CREATE DATABASE "{name}"'], check=True,
                       capture_output=True)
        dump = subprocess.Popen([str(PG_BIN / "pg_dump"), "-h", source.get("HOST") or "127.0.0.1",
                                 "-p", str(source.get("PORT") or 5432), "-U", source.get("USER") or "postgres",
                                 "--no-owner", "--no-privileges", source["NAME"]],
                                stdout=subprocess.PIPE, env=env)
        restore = subprocess.run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                                  "-d", name, "-q", "-v", "ON_ERROR_STOP=1"], stdin=dump.stdout,
                                 capture_output=True, check=False)
        dump.stdout.close()
        assert dump.wait(timeout=60) == 0, "pg_dump of the test database failed"
        assert restore.returncode == 0, restore.stderr.decode()

    def close(self) -> None:
        if self.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


class ThrowawayRedis:
    """A Redis of the test's own on a free port, keeping nothing on disk."""

    def __init__(self, directory: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            missing("needs redis-server on PATH")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the throwaway redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Kill it (SIGKILL): an outage, not a polite shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()


class ServerProcess:
    """The ASGI application under daphne in a process of its own, with ``env`` over this one's."""

    def __init__(self, *, env: dict[str, str], options: dict | None = None):
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        self._lines: queue.Queue[str] = queue.Queue()
        self.port: int | None = None
        environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "wuxi_parking.settings.test", **env}
        self.process = subprocess.Popen([sys.executable, str(SERVE), "serve", json.dumps(options or {})],
                                        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=self._log,
                                        text=True)
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line.strip())

    def wait_ready(self, timeout: float = 60.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line.startswith("LISTENING "):
                self.port = int(line.split()[1])
                return self
        raise RuntimeError(f"the server did not start:\n{self.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdout.close()
        self._log.close()
