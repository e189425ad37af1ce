"""Public read API (SPEC §4), mounted at /api/v1/ by wuxi_parking.audiences.public."""

from django.urls import path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("lots/", views.LotListView.as_view(), name="lot-list"),
    # Before lots/<code>/: "nearest" is not a lot code (codes are upper case), but be explicit.
    path("lots/nearest", views.LotNearestView.as_view(), name="lot-nearest"),
    # A trailing slash is a common client slip; send it to the contract's path, query kept.
    # Only a read is redirected: a POST answered with a redirect would come back as a GET (an error, 405, instead).
    path("lots/nearest/", RedirectView.as_view(pattern_name="lot-nearest", query_string=True, permanent=False,
                                               http_method_names=["get", "head"])),
    path("lots/<str:code>/", views.LotDetailView.as_view(), name="lot-detail"),
    path("map/lots.geojson", views.MapLotsGeoJSONView.as_view(), name="map-lots-geojson"),
    path("fees/quote", views.FeeQuoteView.as_view(), name="fee-quote"),
]
