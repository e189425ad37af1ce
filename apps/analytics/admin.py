"""The analytics app's admin pages; each part registers its own."""

from .supervision import admin as supervision_admin  # noqa: F401  (registers the supervision pages)
