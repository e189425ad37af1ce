"""ASGI entry point: HTTP goes to Django, WebSocket to the realtime app's routes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuxi_parking.settings.base")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.common.observability import WebSocketViewers  # noqa: E402
from apps.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The only socket (/ws/occupancy/) is public and read-only, and mini programs and apps send
        # no Origin header, so no origin check here. A socket that acts on a login must check
        # the origin itself (channels.security.websocket.OriginValidator) against hijacking.
        # WebSocketViewers counts the open sockets for /metrics (wxp_ws_viewers).
        "websocket": WebSocketViewers(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
