"""The analytics app's tables. Each part keeps its models in its own module:

- ``summaries``: what periodic tasks roll up from the live counters, sessions and money (issue 11 item 3);
  pages and dashboards read these, never the raw events.
- ``forecast``: the occupancy forecast's per-lot evaluation and the forecasts it lets through (item 5).
"""

from .forecast import ForecastEvaluation, LotForecast
from .summaries import LotDay, LotHour, OccupancySample

__all__ = ["ForecastEvaluation", "LotDay", "LotForecast", "LotHour", "OccupancySample"]
