"""The citizen's own data (SPEC §8), mounted at /api/v1/me/ by wuxi_parking.audiences.citizen."""

from django.urls import path

from . import views

urlpatterns = [
    path("plates", views.PlateListView.as_view(), name="me-plates"),
    path("plates/<str:plate>", views.PlateDetailView.as_view(), name="me-plate-detail"),
    path("plates/<str:plate>/export", views.PlateExportView.as_view(), name="me-plate-export"),
    path("sessions", views.StayListView.as_view(), name="me-sessions"),
    path("arrears", views.ArrearsListView.as_view(), name="me-arrears"),
]
