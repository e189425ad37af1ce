"""manage.py run_city (what `make run` starts): server, scheduler and simulator, on HOST and PORT."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from django.db import connection

from apps.demo.management.commands.run_city import local_url
from tests.realtime.live import ROOT, shared_database_name


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8000"),
    ("localhost", "http://localhost:8000"),
    ("0.0.0.0", "http://127.0.0.1:8000"),  # noqa: S104
    ("::", "http://[::1]:8000"),
    ("[::]", "http://[::1]:8000"),
    ("::1", "http://[::1]:8000"),
    ("192.168.1.20", "http://192.168.1.20:8000"),
])
def test_the_simulator_reaches_a_wildcard_bind_on_loopback(host, url):
    assert local_url(host, 8000) == url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_make_run_with_host_0000_starts_and_serves_on_loopback(tmp_path):
    """`make run HOST=0.0.0.0` used to wait for http://0.0.0.0:PORT, which Django's default
    ALLOWED_HOSTS refuses (400), until the start-up timeout killed the demo."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env["DEBUG"] = "true"
    name = shared_database_name(tmp_path)
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = name
    else:
        params = connection.settings_dict
        env["DATABASE_URL"] = f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{name}"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_city", "--host", "0.0.0.0", "--port", str(port),  # noqa: S104
         "--no-simulator", "--startup-timeout", "40"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            if "ALLOWED_HOSTS" in seen[-1]:  # the last line run_city prints once everything started
                break
        assert any("demo city is running" in line for line in seen), "".join(seen)
        assert any(f"http://127.0.0.1:{port}/map/" in line for line in seen), "".join(seen)
        assert any("ALLOWED_HOSTS" in line for line in seen), "".join(seen)
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/lots/", params={"page_size": 1}, timeout=10)
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
