"""Gateways' callbacks (SPEC §7), mounted at /payments/notify/ by wuxi_parking.audiences.providers."""

from django.urls import path

from . import notify

urlpatterns = [
    path("<str:provider>/", notify.notify, name="payments-notify"),
]
