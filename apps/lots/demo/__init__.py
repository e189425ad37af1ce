"""The demo city behind ``manage.py seed_demo``: a deterministic, real-looking Wuxi to run and test on.

- ``places``: Wuxi's built-up areas (clusters), real landmarks and the lakes that must stay empty;
- ``names`` and ``operators``: what lots and operators are called, with valid registry codes;
- ``plan``: the city as plain data from ``random.Random(seed)`` (no database, no clock);
- ``seed``: the service that writes it (``demo_city_seed``) and the tariff fixture loader.

Everything here is demo data: the logins share a published password (``DEMO_PASSWORD``).
"""

from .plan import DEMO_CLOCK, BerthPlan, LotPlan, plan_city
from .seed import DEMO_PASSWORD, TARIFF_FIXTURE, DemoCity, DemoCityError, DemoLogin, demo_city_seed, tariffs_load

__all__ = [
    "DEMO_CLOCK",
    "DEMO_PASSWORD",
    "TARIFF_FIXTURE",
    "BerthPlan",
    "DemoCity",
    "DemoCityError",
    "DemoLogin",
    "LotPlan",
    "demo_city_seed",
    "plan_city",
    "tariffs_load",
]
