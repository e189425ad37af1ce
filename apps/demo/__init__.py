"""The demo city: a deterministic, real-looking Wuxi to run and test on, and the lot systems that drive it.

- ``places``: Wuxi's built-up areas (clusters), real landmarks and the lakes that must stay empty;
- ``names`` and ``operators``: what lots and operators are called, with valid registry codes;
- ``plan``: the city as plain data from ``random.Random(seed)`` (no database, no clock);
- ``seed``: the service that writes it (``demo_city_seed``) and the tariff fixture loader;
- ``simulation``: the simulator's model (vehicles, plates, daily curves, the lot systems' outboxes);
- ``guard``: the one check that keeps every demo command off a production deployment;
- commands ``seed_demo``, ``simulate_city`` and ``run_city`` (what ``make run`` starts).

Nothing outside this app imports it: the demo sits on top of the platform and uses only what a real
deployment offers (services, the signed ingest API). Everything here is demo data: the logins share
a published password (``seed.DEMO_PASSWORD``).

This module imports nothing, so the app registry can load the app before the models are ready.
"""
