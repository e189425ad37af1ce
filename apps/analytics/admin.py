"""The analytics app's admin pages; each part registers its own."""

from .dashboards import admin as dashboards_admin  # noqa: F401  (the dashboards and their targets)
from .supervision import admin as supervision_admin  # noqa: F401  (the supervision cases and rules)
