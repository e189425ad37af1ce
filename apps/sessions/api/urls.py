"""Signed ingest from lot systems (SPEC §3), mounted at /api/v1/ingest/ by wuxi_parking.audiences.ingest."""

from django.urls import path

from .views import IngestEventsView

urlpatterns = [
    path("events", IngestEventsView.as_view(), name="ingest-events"),
]
