"""The Celery app. Without REDIS_URL tasks run eagerly in the caller (embedded default)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuxi_parking.settings.base")

app = Celery("wuxi_parking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
