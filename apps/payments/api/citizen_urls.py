"""A citizen's own orders and receipts, mounted by the citizen audience at ``/api/v1/me/``."""

from django.urls import path

from . import views

urlpatterns = [
    path("orders", views.MyOrdersView.as_view(), name="me-orders"),
]
