"""A citizen's own data (SPEC §8: plates, stays, arrears), mounted at ``/api/v1/me/``."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.wechat.api.urls")),
]
