"""`make serve-prod`: the production process set on one machine, under one small supervisor.

    python deploy/serve_prod.py [--workers 2] [--host 127.0.0.1] [--port 8000] [--skip-setup]

It runs what docs/deploy.md runs under systemd, with the production settings, against this
machine's PostgreSQL and Redis (``DATABASE_URL``, ``REDIS_URL``; defaults below):

- ``migrate`` and ``collectstatic`` first (``--skip-setup`` leaves them out);
- N daphne ASGI workers, worker i on ``port + i`` (nginx's upstream lists them all);
- one Celery worker and Celery beat.

Every line a child prints is prefixed with its name. When one child exits, or on Ctrl-C / SIGTERM,
all are stopped (SIGTERM, then SIGKILL after 10 s) and the supervisor exits: a half-running platform
is worse than a stopped one. Children run in sessions of their own, so a Ctrl-C reaches the
supervisor only, and each child is told to stop exactly once.

Locally there is no TLS proxy, so HTTPS-only settings are turned off unless the environment sets
them, and /metrics is open to loopback. ``SECRET_KEY``, ``DEVICE_SECRET_KEY`` and ``PLATE_HASH_SALT``, when not given,
are generated once into ``var/serve-prod.env`` (mode 600) so sessions and device keys survive a restart.
Only the standard library is used: the supervisor itself needs nothing installed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT_S = 10.0

LOCAL_DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "wuxi_parking.settings.production",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/wuxi_parking",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # Plain http on loopback: no proxy to say https, no browser that would send a secure cookie back.
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "PROXY_SSL_HEADER": "",
    "METRICS_ALLOW_FROM": "127.0.0.1/32,::1/128",
    "WECHAT_SITE_URL": "http://127.0.0.1:8000",
}


#: secrets generated once into the env file when the environment does not give them
GENERATED = ("SECRET_KEY", "DEVICE_SECRET_KEY", "PLATE_HASH_SALT")


def local_environment(env_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in LOCAL_DEFAULTS.items():
        env.setdefault(key, value)
    if not all(env.get(key) for key in GENERATED):
        saved = _read_env_file(env_file)
        if not set(GENERATED) <= saved.keys():
            saved = {"SECRET_KEY": secrets.token_urlsafe(50), "DEVICE_SECRET_KEY": secrets.token_urlsafe(32),
                     "PLATE_HASH_SALT": secrets.token_urlsafe(32), **saved}
            env_file.parent.mkdir(parents=True, exist_ok=True)
            env_file.touch(mode=0o600)
            env_file.write_text("".join(f"{k}={v}\n" for k, v in saved.items()))
        for key in GENERATED:
            if not env.get(key):
                env[key] = saved[key]
    return env


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def commands(*, workers: int, host: str, port: int, python: str = sys.executable) -> list[tuple[str, list[str]]]:
    """(name, argv) of every long-running process, as docs/deploy.md runs them."""
    # No --proxy-headers here: nothing stands in front to set X-Forwarded-For (docs/deploy.md adds it behind nginx).
    # -v 0: no plain-text access log from daphne; LOG_ACCESS=true logs each request as JSON with its id.
    procs = [(f"web{i + 1}", [python, "-m", "daphne", "-v", "0", "-b", host, "-p", str(port + i),
                              "wuxi_parking.asgi:application"]) for i in range(workers)]
    procs.append(("worker", [python, "-m", "celery", "-A", "wuxi_parking", "worker", "--loglevel", "INFO",
                             "--concurrency", "2", "--hostname", f"worker-{os.getpid()}@%h"]))
    procs.append(("beat", [python, "-m", "celery", "-A", "wuxi_parking", "beat", "--loglevel", "INFO",
                           "--schedule", str(ROOT / "var" / "celerybeat-schedule")]))
    return procs


class Supervisor:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stopping = threading.Event()
        self._print_lock = threading.Lock()

    def say(self, name: str, line: str) -> None:
        with self._print_lock:
            sys.stdout.write(f"{name:>7} | {line.rstrip()}\n")
            sys.stdout.flush()

    def run_once(self, name: str, argv: list[str]) -> None:
        self.say(name, " ".join(argv[1:]))
        done = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, check=False)
        for line in (done.stdout + done.stderr).splitlines()[-5:]:
            self.say(name, line)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed with code {done.returncode}")

    def start(self, name: str, argv: list[str]) -> None:
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, start_new_session=True)
        self.children.append((name, proc))
        threading.Thread(target=self._relay, args=(name, proc), daemon=True).start()
        self.say("serve", f"started {name} (pid {proc.pid})")

    def _relay(self, name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.say(name, line)

    def wait_until_answering(self, urls: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(urls)
        while pending and time.monotonic() < deadline and not self.stopping.is_set():
            self._check_children()
            for url in list(pending):
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our loopback)
                        if response.status == 200:
                            pending.remove(url)
                except OSError:
                    pass  # not listening yet: asked again on the next round
            time.sleep(0.3)
        if pending and not self.stopping.is_set():
            raise SystemExit(f"no answer within {timeout:.0f} s from {', '.join(pending)}")

    def _check_children(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with code {proc.returncode}; stopping the rest")

    def supervise(self) -> None:
        while not self.stopping.wait(0.5):
            self._check_children()

    def stop(self) -> None:
        self.stopping.set()
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for name, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("serve", f"{name} did not stop in {STOP_TIMEOUT_S:.0f} s; killing it")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.say("serve", "all stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--skip-setup", action="store_true", help="do not migrate nor collectstatic first")
    parser.add_argument("--env-file", type=Path, default=ROOT / "var" / "serve-prod.env")
    parser.add_argument("--startup-timeout", type=float, default=90.0)
    args = parser.parse_args(argv)

    supervisor = Supervisor(local_environment(args.env_file))
    (ROOT / "var").mkdir(exist_ok=True)  # beat's schedule file
    manage = [sys.executable, str(ROOT / "manage.py")]

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not args.skip_setup:
            supervisor.run_once("migrate", [*manage, "migrate", "--noinput"])
            supervisor.run_once("static", [*manage, "collectstatic", "--noinput"])
        for name, command in commands(workers=args.workers, host=args.host, port=args.port):
            supervisor.start(name, command)
        shown = f"[{args.host}]" if ":" in args.host else args.host
        urls = [f"http://{shown}:{args.port + i}" for i in range(args.workers)]
        supervisor.wait_until_answering([f"{url}/healthz" for url in urls], args.startup_timeout)
        supervisor.say("serve", f"READY {' '.join(urls)}  (/map/, /admin/, /readyz, /metrics); Ctrl-C stops all")
        supervisor.supervise()
    except KeyboardInterrupt:
        supervisor.say("serve", "stopping…")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            supervisor.say("serve", str(exc.code))
            supervisor.stop()
            return 1
    finally:
        if not supervisor.stopping.is_set():
            supervisor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
