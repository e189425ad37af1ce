"""Payment providers' callbacks (SPEC: ``/payments/notify/wechat/`` and the others), mounted at
``/payments/notify/``: one generic view over the provider registry."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.payments.notify_urls")),
]
