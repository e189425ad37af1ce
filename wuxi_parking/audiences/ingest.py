"""Lot systems and devices, signed with their key (SPEC §3), mounted at ``/api/v1/ingest/``."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.sessions.api.urls")),
    path("", include("apps.payments.api.ingest_urls")),  # the operators' arrears blacklist
]
