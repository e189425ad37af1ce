"""Start the demo city on one machine: the ASGI server, the scheduler and the simulator side by side.

This is what `make run` calls after migrating and seeding. Each part is its own process so the
simulator drives the server through the real HTTP API, exactly as a lot system would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from apps.demo.guard import refuse_production


class Command(BaseCommand):
    help = "运行演示城市：服务器 + 定时任务 + 模拟器 / run the demo city: server, scheduler and simulator"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--rate", type=float, default=20.0, help="simulator events per second")
        parser.add_argument("--no-simulator", action="store_true")
        parser.add_argument("--startup-timeout", type=float, default=60.0)

    def handle(self, *args, host, port, rate, no_simulator, startup_timeout, **options):
        refuse_production()
        bind = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 literal
        base = local_url(host, port)
        manage = [sys.executable, "manage.py"]
        children: list[tuple[str, subprocess.Popen]] = []

        def stop(*_):
            for _name, proc in reversed(children):
                if proc.poll() is None:
                    proc.terminate()
            for _name, proc in children:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()

        signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
        try:
            children.append(("server", subprocess.Popen([*manage, "runserver", f"{bind}:{port}", "--noreload"])))
            self._wait_until_up(f"{base}/api/v1/lots/?page_size=1", children[0][1], startup_timeout)
            children.append(("scheduler", subprocess.Popen([*manage, "run_scheduler"])))
            if not no_simulator:
                children.append(("simulator", subprocess.Popen(
                    [*manage, "simulate_city", "--url", base, "--rate", str(rate)])))
            self.stdout.write(self.style.SUCCESS(
                "\n无锡停车 demo city is running:\n"
                f"  停车地图 map        {base}/map/\n"
                f"  管理后台 admin      {base}/admin/   (demo users: see seed_demo's output; admin / wuxi-demo-2026)\n"
                f"  预约停车 booking    {base}/reservations/   (bound plates come with the WeChat login)\n"
                f"  接口文档 API docs   {base}/api/docs/\n"
                f"  开放数据 open data  {base}/api/v1/open/lots.csv\n"
                "Press Ctrl-C to stop.\n"))
            if base != f"http://{bind}:{port}":
                # Bilingual like the lines above: the demo's console speaks to both audiences.
                self.stdout.write(f"监听所有网卡 listening on every interface ({bind}:{port}): "
                                  "其他机器请用本机地址访问，并将其加入 ALLOWED_HOSTS / "
                                  "from another machine use this machine's address and add it to ALLOWED_HOSTS\n")
            while True:
                for name, proc in children:
                    if proc.poll() is not None:
                        if name == "server":
                            raise CommandError(f"the server exited with code {proc.returncode}")
                        self.stderr.write(f"{name} exited with code {proc.returncode}; the rest keeps running")
                        children.remove((name, proc))
                        break
                time.sleep(1)
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            stop()

    def _wait_until_up(self, url: str, server: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"the server exited with code {server.returncode} while starting")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own loopback URL)
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise CommandError(f"the server did not answer {url} within {timeout:.0f} s")


_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}  # noqa: S104 (we map them away)


def local_url(host: str, port: int) -> str:
    """Where the simulator and the start-up check reach the server. A wildcard bind (``HOST=0.0.0.0``)
    is reached on loopback: it is not an address to connect to, and Django's default ALLOWED_HOSTS
    accepts loopback names only, so requests to ``http://0.0.0.0:PORT`` would be refused."""
    host = _WILDCARDS.get(host, host).strip("[]")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
