"""Paying (SPEC §8.1), mounted at /api/v1/ by wuxi_parking.audiences.public."""

from django.urls import path

from . import views

urlpatterns = [
    path("pay/due", views.PayDueView.as_view(), name="pay-due"),
    path("payments/orders", views.OrderCreateView.as_view(), name="payment-order-create"),
    path("payments/orders/<str:order_no>", views.OrderDetailView.as_view(), name="payment-order-detail"),
    path("payments/orders/<str:order_no>/cancel", views.OrderCancelView.as_view(), name="payment-order-cancel"),
]
