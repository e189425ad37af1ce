"""Mounted by the public audience at ``/api/v1/`` (SPEC §8.3 puts them there); the writes among
them are citizen views that take a login."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("reservations/hospitals/", views.HospitalListView.as_view(), name="reservation-hospitals"),
    path("reservations/", views.ReservationCreateView.as_view(), name="reservation-list"),
    re_path(r"^reservations/(?P<pk>[0-9]{1,18})/?$", views.ReservationDetailView.as_view(),
            name="reservation-detail"),
    path("reservations/<int:pk>/qr.svg", views.ReservationQRView.as_view(), name="reservation-qr"),
    path("sharing/offers", views.OfferListView.as_view(), name="sharing-offers"),
    path("sharing/applications", views.ApplicationCreateView.as_view(), name="sharing-applications"),
]
