"""The project's URLs plus three views that fail, for tests/security/test_errors.py."""

from django.urls import path
from rest_framework.views import APIView

from wuxi_parking.urls import handler404, handler500  # noqa: F401
from wuxi_parking.urls import urlpatterns as project_urls

SECRET = "postgres://admin:hunter2@db.internal/wxp"


class FailingAPIView(APIView):
    def get(self, request):
        raise RuntimeError(f"could not connect to {SECRET}")


def failing_api_function(request):
    raise RuntimeError(f"could not connect to {SECRET}")


def failing_page(request):
    raise RuntimeError(f"could not connect to {SECRET}")


urlpatterns = [
    path("api/v1/test-fail/drf", FailingAPIView.as_view()),
    path("api/v1/test-fail/plain", failing_api_function),
    path("hotline/test-fail", failing_page),
    *project_urls,
]
