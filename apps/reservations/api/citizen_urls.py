"""A citizen's own bookings and sharing, mounted by the citizen audience at ``/api/v1/me/``."""

from django.urls import path

from . import views

urlpatterns = [
    path("reservations", views.MyReservationsView.as_view(), name="me-reservations"),
    path("booking-suspensions", views.MySuspensionsView.as_view(), name="me-booking-suspensions"),
    path("sharing", views.MySharingView.as_view(), name="me-sharing"),
    path("sharing/contracts/<int:pk>/end", views.MyContractActionView.as_view(action="end"),
         name="me-sharing-contract-end"),
    path("sharing/contracts/<int:pk>/renew", views.MyContractActionView.as_view(action="renew"),
         name="me-sharing-contract-renew"),
]
