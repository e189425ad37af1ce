"""The masked public arrears list, mounted at /api/v1/ by wuxi_parking.audiences.public."""

from django.urls import path

from . import money_views

urlpatterns = [
    path("arrears/public", money_views.PublicArrearsView.as_view(), name="arrears-public"),
]
