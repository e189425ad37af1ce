from django.urls import path

from .views import IngestEventsView

urlpatterns = [
    path("events", IngestEventsView.as_view(), name="ingest-events"),
]
