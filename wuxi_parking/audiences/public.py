"""Public API, no login (SPEC §4 and §5), mounted at ``/api/v1/``."""

from django.urls import include, path

urlpatterns = [
    path("open/", include("apps.analytics.api.urls")),
    path("wechat/", include("apps.wechat.api.public_urls")),
    path("", include("apps.lots.api.urls")),
]
