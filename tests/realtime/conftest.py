import pytest
from asgiref.sync import SyncToAsync
from django.db import connections


@pytest.fixture(autouse=True)
def _close_hub_thread_connections():
    """The hub reads through database_sync_to_async, whose worker thread keeps its connection
    open between calls; close it after each test so the test database can be dropped."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
