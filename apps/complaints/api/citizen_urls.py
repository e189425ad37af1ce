"""The citizen's own tickets, mounted at /api/v1/me/ by wuxi_parking.audiences.citizen."""

from django.urls import path

from . import views

urlpatterns = [
    path("complaints", views.MyTicketListView.as_view(), name="me-complaints"),
]
