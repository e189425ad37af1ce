from django.conf import settings
from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.common.api.exceptions import json_404, json_500
from wuxi_parking import ops

admin.site.site_header = _("无锡停车 · 城市停车管理平台")
admin.site.site_title = _("无锡停车")
admin.site.index_title = _("管理首页")

def favicon(request):
    """Browsers ask for /favicon.ico on pages that link no icon (the admin, the API docs)."""
    return HttpResponsePermanentRedirect(static("favicon-32.png"))


urlpatterns = [
    path("", RedirectView.as_view(url="/map/", permanent=False)),
    path("favicon.ico", favicon),
    # Probes and Prometheus (wuxi_parking/ops.py): outside /api/, answered by every worker.
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # One URL module per audience (wuxi_parking/audiences): the caller decides the mount and the login.
    path("api/v1/ingest/", include("wuxi_parking.audiences.ingest")),
    path("api/v1/staff/", include("wuxi_parking.audiences.staff")),
    path("api/v1/me/", include("wuxi_parking.audiences.citizen")),
    path("api/v1/", include("wuxi_parking.audiences.public")),
    path("payments/notify/", include("wuxi_parking.audiences.providers")),
    # The hotline's Open311 face (SPEC §7) and its web pages for citizens (SPEC §8.2).
    path("open311/v2/", include("apps.complaints.api.open311_urls")),
    path("hotline/", include("apps.complaints.urls")),
    path("wechat/", include("apps.wechat.urls")),
    path("", include("apps.wechat.page_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("apps.payments.urls")),  # the pay page at a lot's code, the sandbox cashier
    path("", include("apps.realtime.urls")),
    path("", include("apps.reservations.urls")),  # the citizen booking pages (mobile)
]

handler404 = "wuxi_parking.urls.not_found"
handler500 = "wuxi_parking.urls.server_error"


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    if request.path.startswith("/open311/"):
        from apps.complaints.api.open311 import not_found as open311_not_found

        return open311_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_500(request)
    from django.views.defaults import server_error as default

    return default(request)


if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
