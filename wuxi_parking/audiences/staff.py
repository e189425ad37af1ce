"""Government and operator staff, each scoped to their region or lots, mounted at ``/api/v1/staff/``."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.lots.api.staff_urls")),
    path("", include("apps.reservations.api.staff_urls")),
    path("", include("apps.complaints.api.staff_urls")),
]
