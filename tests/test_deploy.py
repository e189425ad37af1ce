"""Issue 12 item 1: production settings pass ``check --deploy``; ``make serve-prod`` (deploy/serve_prod.py)
runs two ASGI workers, a Celery worker and beat, and stops them all on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.test_settings import load

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k3y-" + "x7Qp2LmN9vR4sT8wY1zA5bC6dE0fG3hJ" * 2  # 50+ characters, varied: check --deploy W009
PRODUCTION = {"SECRET_KEY": STRONG_KEY, "DEVICE_SECRET_KEY": "device-key", "PLATE_HASH_SALT": "plate-salt",
              "REDIS_URL": "redis://127.0.0.1:6379/0",
              "DATABASE_URL": "postgres://u@127.0.0.1:5432/db", "ALLOWED_HOSTS": "parking.wuxi.gov.cn",
              "WECHAT_SITE_URL": "https://parking.wuxi.gov.cn"}


VALUES = (
    '{"proxy": s.SECURE_PROXY_SSL_HEADER, "redirect": s.SECURE_SSL_REDIRECT, "hsts": s.SECURE_HSTS_SECONDS,'
    ' "sub": s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "cookies": [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE],'
    ' "exempt": s.SECURE_REDIRECT_EXEMPT, "metrics_from": s.METRICS_ALLOW_FROM, "token": s.METRICS_TOKEN,'
    ' "log": s.LOGGING["handlers"]["console"]["formatter"], "static": s.STORAGES["staticfiles"]["BACKEND"],'
    ' "whitenoise": s.MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware")'
    ' - s.MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")}'
)


def production(**env: str) -> dict:
    """In a clean interpreter with the production settings and this environment: the settings that
    matter here, and what ``check --deploy --fail-level WARNING`` says ("clean" or its report)."""
    code = ("import django, json; django.setup(); from django.conf import settings as s; "
            "from django.core.management import call_command; from django.core.management.base import "
            "SystemCheckError\n"
            f"values = {VALUES}\n"
            "try:\n    call_command('check', deploy=True, fail_level='WARNING'); check = 'clean'\n"
            "except SystemCheckError as exc:\n    check = str(exc)\n"
            "print(json.dumps({'values': values, 'check': check}, default=str))")
    clean = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "wuxi_parking.settings.production",
             **PRODUCTION, **env}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_with_only_the_required_variables_whose_defaults_are_the_safe_ones():
    result = production()
    assert result["check"] == "clean"
    assert result["values"] == {
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"], "redirect": True, "hsts": 31536000, "sub": True,
        "cookies": [True, True], "exempt": ["^healthz$", "^readyz$", "^metrics$"],
        "metrics_from": [], "token": "",  # /metrics answers nobody until one of them is set
        "log": "json", "static": "whitenoise.storage.CompressedManifestStaticFilesStorage", "whitenoise": 1,
    }


def test_each_transport_setting_comes_from_the_environment_and_switching_one_off_fails_the_check():
    result = production(SECURE_SSL_REDIRECT="false", SESSION_COOKIE_SECURE="false", PROXY_SSL_HEADER="X-Scheme",
                        SECURE_HSTS_SECONDS="600", METRICS_ALLOW_FROM="10.0.0.0/8, 192.168.1.7", LOG_FORMAT="plain")
    values = result["values"]
    assert values["proxy"] == ["HTTP_X_SCHEME", "https"] and values["hsts"] == 600
    assert values["redirect"] is False and values["cookies"] == [False, True]
    assert values["metrics_from"] == ["10.0.0.0/8", "192.168.1.7"] and values["log"] == "plain"
    assert "security.W008" in result["check"] and "security.W012" in result["check"]


@pytest.mark.parametrize(("env", "complaint"), [
    ({"METRICS_ALLOW_FROM": "10.0.0.0/8,not-a-network"}, "METRICS_ALLOW_FROM: 'not-a-network'"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be plain or json"),
    ({"WECHAT_SITE_URL": ""}, "WECHAT_SITE_URL is required in production"),
    ({"WECHAT_SITE_URL": "parking.wuxi.gov.cn"}, "WECHAT_SITE_URL is required in production"),
])
def test_a_bad_observability_setting_is_refused_at_start(env, complaint):
    result = load("wuxi_parking.settings.production", **{**PRODUCTION, **env})
    assert result.returncode != 0 and complaint in result.stderr


def test_production_refuses_to_start_without_a_plate_hash_salt():
    """Expired plates are hashed with it (docs/privacy.md): never derived, never missing in production."""
    without = {key: value for key, value in PRODUCTION.items() if key != "PLATE_HASH_SALT"}
    result = load("wuxi_parking.settings.production", **without)
    assert result.returncode != 0 and "PLATE_HASH_SALT is required in production" in result.stderr
    assert load("wuxi_parking.settings.production", **without, PLATE_HASH_SALT="").returncode != 0
    assert load("wuxi_parking.settings.production", **PRODUCTION).returncode == 0


# --- make serve-prod ------------------------------------------------------------------------------
def _two_free_ports() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65000:
            try:
                with socket.socket() as a, socket.socket() as b:
                    a.bind(("127.0.0.1", port))
                    b.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")


def _sample(text: str, series: str) -> float:
    line = next((line for line in text.splitlines() if line.startswith(series + " ")), None)
    return float(line.split()[-1]) if line else 0.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_serve_prod_runs_two_workers_with_celery_and_ctrl_c_stops_them_all(tmp_path, settings):
    from django.db import connection

    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
    port = _two_free_ports()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "wuxi_parking.settings.production",
           "DATABASE_URL": database_url + db["NAME"], "REDIS_URL": settings.REDIS_URL,
           "SECRET_KEY": STRONG_KEY, "DEVICE_SECRET_KEY": "device-key", "STATIC_ROOT": str(tmp_path / "static"),
           "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
    supervisor = subprocess.Popen([sys.executable, "deploy/serve_prod.py", "--port", str(port),
                                   "--env-file", str(tmp_path / "serve.env")],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in supervisor.stdout], daemon=True).start()

    def wait_for(pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert supervisor.poll() is None, "\n".join(seen)
                continue
            seen.append(line.rstrip())
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(seen[-60:]))

    try:
        wait_for(r"\bREADY\b")
        pids = {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", "\n".join(seen))}
        assert set(pids) == {"web1", "web2", "worker", "beat"}
        for worker in (port, port + 1):
            base = f"http://127.0.0.1:{worker}"
            assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
            ready = httpx.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "cache": "ok", "channel_layer": "ok"}
            scraped = httpx.get(f"{base}/metrics", timeout=10).text  # open to loopback, locally
            assert "wxp_http_requests_total" in scraped
            assert 'wxp_task_queue_length{queue="celery"}' in scraped  # read from the broker at scrape time
        # Counted on one worker, scraped from the other: the figures are the platform's, not a process's.
        missing = 'wxp_http_requests_total{audience="public",status="404"}'
        before = _sample(httpx.get(f"http://127.0.0.1:{port + 1}/metrics", timeout=10).text, missing)
        for _ in range(3):
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/no-such-thing", timeout=10).status_code == 404
        deadline = time.monotonic() + 15  # a worker flushes its counts every METRICS_FLUSH_SECONDS (5 s)
        while _sample(httpx.get(f"http://127.0.0.1:{port + 1}/metrics", timeout=10).text, missing) < before + 3:
            assert time.monotonic() < deadline, "web2 never showed what web1 counted"
            time.sleep(0.5)
        # WhiteNoise serves collectstatic's hashed files, compressed, cached for good.
        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
        hashed = manifest["favicon-32.png"]
        static = httpx.get(f"http://127.0.0.1:{port + 1}/static/{hashed}", timeout=10)
        assert static.status_code == 200 and "immutable" in static.headers["Cache-Control"]
        # The Celery worker and beat are up, not only started.
        wait_for(r"worker \|.*\bready\b")
        assert all(_alive(pid) for pid in pids.values())

        supervisor.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert supervisor.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [name for name, pid in pids.items() if _alive(pid)]
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait(timeout=10)
