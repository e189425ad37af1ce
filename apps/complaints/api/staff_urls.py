"""Staff read API of the hotline, mounted at /api/v1/staff/ by wuxi_parking.audiences.staff."""

from django.urls import path

from . import staff

urlpatterns = [
    path("tickets/", staff.StaffTicketListView.as_view(), name="staff-ticket-list"),
    path("tickets/<str:ticket_no>/", staff.StaffTicketDetailView.as_view(), name="staff-ticket-detail"),
]
