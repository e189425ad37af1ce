"""The analytics app's admin: each part registers its own (the dashboards and their targets)."""

from .dashboards import admin as dashboards_admin  # noqa: F401
