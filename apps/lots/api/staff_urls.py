"""Staff read API, mounted at /api/v1/staff/ by wuxi_parking.audiences.staff."""

from django.urls import path

from . import staff

urlpatterns = [
    path("lots/", staff.StaffLotListView.as_view(), name="staff-lot-list"),
    path("lots/<str:code>/", staff.StaffLotDetailView.as_view(), name="staff-lot-detail"),
]
