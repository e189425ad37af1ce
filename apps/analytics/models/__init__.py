"""The analytics app's tables. Each part keeps its models in its own module:

- ``summaries``: what periodic tasks roll up from the live counters, sessions and money (issue 11 item 3);
  pages and dashboards read these, never the raw events;
- ``supervision``: data-quality rules, the cases they raise and the cases' history (issue 11 item 1);
- ``dashboards``: the targets staff set, the region rollups and the dashboards' admin page (issue 11
  items 2 and 4);
- ``forecast``: the occupancy forecast's per-lot evaluation and the forecasts it lets through (item 5).
"""

from .dashboards import Dashboard, LotRecent, RegionDay, RegionHour, Target
from .forecast import ForecastEvaluation, LotForecast
from .summaries import LotDay, LotHour, OccupancySample
from .supervision import CaseChange, SupervisionCase, SupervisionRule

__all__ = ["CaseChange", "Dashboard", "ForecastEvaluation", "LotDay", "LotForecast", "LotHour", "LotRecent",
           "OccupancySample", "RegionDay", "RegionHour", "SupervisionCase", "SupervisionRule", "Target"]
