"""Payment providers' callbacks (SPEC: ``/payments/notify/wechat/`` and the others), mounted at
``/payments/notify/``.

Empty until payments land; the mount is in place so the callbacks get the contract's prefix."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
