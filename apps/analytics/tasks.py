"""The analytics app's Celery tasks, found by ``autodiscover_tasks``; each part keeps its own."""

from .supervision.tasks import supervise_data_quality

__all__ = ["supervise_data_quality"]
