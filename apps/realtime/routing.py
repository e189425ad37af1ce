"""WebSocket routes (wuxi_parking/asgi.py routes every WebSocket through this list)."""

from django.urls import path

from .consumers import OccupancyConsumer

websocket_urlpatterns = [
    path("ws/occupancy/", OccupancyConsumer.as_asgi()),
]
