"""Real ASGI server processes for tests that need more than one process, or a browser.

pytest-django's live_server is WSGI only and speaks no WebSocket, so these tests start daphne in
subprocesses (tests/realtime/serve.py) on the test database: PostgreSQL's test database by name,
or on SQLite a file copy of the in-memory test database taken once the test's rows are committed
(tests using this are ``transaction=True``).
"""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection
from django.utils import timezone
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect_raw

from apps.sessions.signing import signed_headers

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("serve.py")
INGEST_PATH = "/api/v1/ingest/events"


def shared_database_name(directory: Path) -> str:
    """A database another process can open, holding what this test has committed so far."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = directory / "live.sqlite3"
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()
        return str(target)
    return connection.settings_dict["NAME"]


def process_options(database_name: str, **extra) -> dict:
    """What a subprocess needs to share this run's database, cache namespace and channel layer."""
    options = {"database_name": database_name, "cache_prefix": settings.CACHES["default"]["KEY_PREFIX"]}
    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix")
    if prefix:
        options["channel_prefix"] = prefix
    options.update(extra)
    return options


class LiveServer:
    def __init__(self, options: dict):
        self.options = options
        self.port: int | None = None
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        self._lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "serve", json.dumps(options)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line.strip())

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line.startswith("LISTENING "):
                self.port = int(line.split()[1])
                return
        raise RuntimeError(f"the server did not start:\n{self.log()}")

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)  # it ends at the pipe's end of file
        self.process.stdout.close()
        self._log.close()


@contextlib.contextmanager
def live_servers(count: int, options: dict) -> Iterator[list[LiveServer]]:
    """Start ``count`` server processes side by side (they boot in parallel)."""
    servers = [LiveServer(options) for _ in range(count)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def run_watcher(options: dict) -> list[int]:
    """Run the connectivity watcher once in its own process; the ids it marked offline."""
    done = subprocess.run([sys.executable, str(SCRIPT), "watch", json.dumps(options)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def occupancy_socket(server: LiveServer, query: str = "") -> Iterator[ClientConnection]:
    # A browser sends its page's origin; AllowedHostsOriginValidator refuses a socket without one.
    with ws_connect_raw(f"{server.ws_url}/ws/occupancy/{query}", origin=server.url, open_timeout=10,
                        max_size=None) as socket:
        yield socket


def receive_until(socket: ClientConnection, predicate: Callable[[dict], bool], timeout: float) -> dict:
    """The first occupancy message matching ``predicate`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching message within {timeout} s")
        try:
            message = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            continue
        if message.get("type") == "occupancy" and predicate(message):
            return message


def lot_in(message: dict, code: str) -> dict | None:
    return next((lot for lot in message["lots"] if lot["code"] == code), None)


def post_entry(server: LiveServer, *, access_key: str, secret: str, lot_code: str,
               plate: str = "苏B12345") -> httpx.Response:
    """One signed SPEC §3.2 entry event, as a lot's gate system would send it."""
    event = {
        "event_id": uuid.uuid4().hex,
        "type": "entry",
        "lot_code": lot_code,
        "occurred_at": timezone.localtime().isoformat(),
        "plate": plate,
        "plate_color": "blue",
        "vehicle_class": "small",
    }
    body = json.dumps({"events": [event]}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json",
               **signed_headers(access_key, secret, "POST", INGEST_PATH, body)}
    return httpx.post(f"{server.url}{INGEST_PATH}", content=body, headers=headers, timeout=10)
