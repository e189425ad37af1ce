"""Open data for the city data platform (SPEC §5), mounted at /api/v1/open/ by wuxi_parking.audiences.public."""

from django.urls import path

from . import views

urlpatterns = [
    path("ngsi-ld/OffStreetParking", views.OffStreetParkingView.as_view(), name="open-ngsi-offstreet"),
    path("ngsi-ld/OnStreetParking", views.OnStreetParkingView.as_view(), name="open-ngsi-onstreet"),
    path("lots.csv", views.RegistryCSVView.as_view(), name="open-lots-csv"),
    path("lots/<str:code>/occupancy", views.LotOccupancyView.as_view(), name="open-lot-occupancy"),
]
