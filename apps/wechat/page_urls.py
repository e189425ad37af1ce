"""The citizen's pages, mounted at the site's root by wuxi_parking.urls."""

from django.urls import path

from . import pages

app_name = "citizen"

urlpatterns = [
    path("me/", pages.me_page, name="me"),
]
