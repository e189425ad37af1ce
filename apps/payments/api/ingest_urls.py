"""What lot systems read, signed like ingest (SPEC §3.1), mounted at /api/v1/ingest/."""

from django.urls import path

from . import money_views

urlpatterns = [
    path("blacklist", money_views.IngestBlacklistView.as_view(), name="ingest-blacklist"),
]
