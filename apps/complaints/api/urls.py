"""SPEC §8.2, mounted at /api/v1/complaints/ by wuxi_parking.audiences.public."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.TicketCreateView.as_view(), name="complaint-create"),
    # Before <ticket_no>: "categories" is not a ticket number.
    path("categories", views.CategoryListView.as_view(), name="complaint-categories"),
    path("<str:ticket_no>", views.TicketFollowUpView.as_view(), name="complaint-detail"),
    path("<str:ticket_no>/rating", views.TicketRatingView.as_view(), name="complaint-rating"),
]
