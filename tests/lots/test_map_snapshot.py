"""The map's GeoJSON snapshot when the shared cache is unreachable (issue 6 item 8): built from the
database, answered 200, and the outage logged as one warning line."""

from __future__ import annotations

import logging

import pytest

from apps.lots.models import ParkingLot
from tests.factories import LotFactory
from tests.outages import UNREACHABLE_REDIS_CACHES

pytestmark = pytest.mark.django_db

GEOJSON = "/api/v1/map/lots.geojson"


def test_without_the_cache_the_snapshot_is_built_from_the_database(api_client, city, settings, caplog):
    from apps.common import cache as shared_cache

    settings.CACHES = UNREACHABLE_REDIS_CACHES
    shared_cache.outage.reset()
    lot = LotFactory(free_berths=10)
    with caplog.at_level(logging.WARNING):
        first = api_client.get(GEOJSON)
        assert first.status_code == 200, first.content
        assert first.json()["features"][0]["properties"]["free_berths"] == 10
        ParkingLot.objects.filter(pk=lot.pk).update(free_berths=4)
        # Nothing is kept anywhere, so the next viewer sees the database as it is now.
        assert api_client.get(GEOJSON).json()["features"][0]["properties"]["free_berths"] == 4
        assert api_client.get(GEOJSON, {"region": lot.region.code}).status_code == 200
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # One warning for the outage from each part that depends on the cache (the snapshot here, the
    # rate limiter of the public API beside it), none with a traceback, none repeated per request.
    by_logger = [r.name for r in problems]
    assert sorted(by_logger) == sorted(set(by_logger)) and "apps.common.cache" in by_logger, by_logger
    assert all(r.exc_info is None for r in problems), [r.getMessage() for r in problems]
