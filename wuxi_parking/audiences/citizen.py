"""A citizen's own data (SPEC: plates, stays, arrears, bookings, sharing), mounted at ``/api/v1/me/``.

Every route takes a login (``apps.common.api.citizen``: a session or a DRF token)."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("apps.reservations.api.citizen_urls")),
    path("", include("apps.wechat.api.urls")),
    path("", include("apps.payments.api.citizen_urls")),
    path("", include("apps.complaints.api.citizen_urls")),
]
