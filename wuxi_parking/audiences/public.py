"""Public API, no login (SPEC §4, §5 and the hotline's web form, §8.2), mounted at ``/api/v1/``."""

from django.urls import include, path

urlpatterns = [
    path("open/", include("apps.analytics.api.urls")),
    path("", include("apps.reservations.api.urls")),  # SPEC §8.3; its writes are citizen views (login)
    path("complaints/", include("apps.complaints.api.urls")),
    path("", include("apps.payments.api.urls")),
    path("", include("apps.payments.api.money_urls")),
    path("wechat/", include("apps.wechat.api.public_urls")),
    path("", include("apps.lots.api.urls")),
]
