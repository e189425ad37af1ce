"""Open311 GeoReport v2 (SPEC §7), mounted at /open311/v2/ by wuxi_parking.urls."""

from django.urls import path

from . import open311

urlpatterns = [
    path("discovery.json", open311.DiscoveryView.as_view(), name="open311-discovery"),
    path("services.json", open311.ServiceListView.as_view(), name="open311-services"),
    path("services/<str:code>.json", open311.ServiceDefinitionView.as_view(), name="open311-service"),
    path("requests.json", open311.RequestListView.as_view(), name="open311-requests"),
    path("requests/<str:request_id>.json", open311.RequestDetailView.as_view(), name="open311-request"),
]
