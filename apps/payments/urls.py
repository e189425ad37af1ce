"""The payer's pages: the lot's pay page, the sandbox cashier and a Native order's QR code."""

from django.urls import path

from . import pages

app_name = "payments"

urlpatterns = [
    path("pay/cashier/<str:order_no>/", pages.sandbox_cashier, name="sandbox-cashier"),
    path("pay/orders/<str:order_no>/qr.svg", pages.order_qr, name="order-qr"),
    path("pay/<str:code>/", pages.pay_page, name="pay-page"),
]
