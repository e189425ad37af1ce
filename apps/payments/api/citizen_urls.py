"""A citizen's own orders and receipts, mounted by the citizen audience at ``/api/v1/me/``."""

from django.urls import path

from . import views

urlpatterns = [
    path("orders", views.MyOrdersView.as_view(), name="me-orders"),
    path("agreements", views.MyAgreementsView.as_view(), name="me-agreements"),
    path("agreements/<int:pk>/end", views.MyAgreementEndView.as_view(), name="me-agreement-end"),
]
