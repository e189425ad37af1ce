from django.urls import path

from . import views

app_name = "realtime"

urlpatterns = [
    path("map/", views.map_page, name="map"),
    path("map/lots/<str:code>/navigate/", views.lot_navigate, name="lot-navigate"),
]
