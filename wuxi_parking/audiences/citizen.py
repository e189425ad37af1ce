"""A citizen's own data (SPEC: plates, stays, arrears), mounted at ``/api/v1/me/``.

Empty until citizen login lands; the mount is in place so those routes get the right prefix."""

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("apps.reservations.api.citizen_urls")),
]
