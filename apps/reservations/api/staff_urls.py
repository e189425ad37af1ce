"""Staff views of booking and sharing, mounted at /api/v1/staff/ by wuxi_parking.audiences.staff."""

from django.urls import path

from . import staff

urlpatterns = [
    path("reservations/stats", staff.HospitalStatsView.as_view(), name="staff-reservation-stats"),
    path("sharing/stats", staff.SharingStatsView.as_view(), name="staff-sharing-stats"),
]
