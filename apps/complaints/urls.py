"""The hotline's pages for citizens (mobile first, Chinese), mounted at /hotline/ by wuxi_parking.urls.
They are static pages that call SPEC §8.2's API from the browser."""

from django.urls import path

from . import views

app_name = "complaints"

urlpatterns = [
    path("", views.form_page, name="form"),
    path("track/", views.track_page, name="track"),
]
