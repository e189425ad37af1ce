"""A real server or publisher process for the multi-process tests (started by tests/realtime/live.py).

    python tests/realtime/serve.py serve   '{"database_name": ..., "channel_prefix": ..., ...}'
    python tests/realtime/serve.py watch   '{"database_name": ..., ...}'

``serve`` runs the project's ASGI application under daphne on a free loopback port (static files
served as runserver would) and prints ``LISTENING <port>``. ``watch`` runs the connectivity watcher
once (``lots_mark_offline``, what ``manage.py run_scheduler`` runs every 30 s) from a process that
serves no WebSocket, prints the ids of the lots it marked offline, and exits.

Options override the test settings before Django starts, so the subprocess sees the test run's
database and channel-layer prefix rather than picking fresh random ones.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def configure(options: dict) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuxi_parking.settings.test")
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = options["database_name"]
    if options.get("in_memory_layer"):
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    elif options.get("channel_prefix"):
        settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = options["channel_prefix"]
    if options.get("cache_prefix"):
        settings.CACHES["default"]["KEY_PREFIX"] = options["cache_prefix"]
    for name, value in options.get("settings", {}).items():
        setattr(settings, name, value)


def serve(options: dict) -> None:
    import daphne.server  # installs the asyncio Twisted reactor; must come before anything else imports one

    configure(options)
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from twisted.internet import reactor

    from wuxi_parking.asgi import application

    server = daphne.server.Server(
        application=ASGIStaticFilesHandler(application),
        endpoints=["tcp:port=0:interface=127.0.0.1"],
        signal_handlers=True,
        verbosity=0,
    )

    def report_port():
        if server.listening_addresses:
            print(f"LISTENING {server.listening_addresses[0][1]}", flush=True)
        else:
            reactor.callLater(0.02, report_port)

    reactor.callLater(0.02, report_port)
    server.run()


def watch(options: dict) -> None:
    configure(options)
    import django

    django.setup()
    from django.utils import timezone

    from apps.lots.connectivity import lots_mark_offline

    print(json.dumps(lots_mark_offline(now=timezone.now())), flush=True)


if __name__ == "__main__":
    {"serve": serve, "watch": watch}[sys.argv[1]](json.loads(sys.argv[2]))
