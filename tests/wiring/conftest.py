"""The ports between the features, as their apps' ``ready()`` connect them.

Other tests register stand-ins in the ports and some remove what was registered when they end;
``wired`` runs the real ``ready()`` of the apps that fill the ports again, so these tests see the
platform's own connections (and fail when a ``ready()`` stops making one)."""

from __future__ import annotations

import pytest
from django.apps import apps

from apps.common import notices
from tests.wechat.conftest import fake_wechat  # noqa: F401  (WeChat's servers, faked at their HTTP edge)

#: every notice kind has a template, so each one asked for is sent (and seen at the fake)
TEMPLATES = {kind: f"TPL-{kind}" for kind in notices.KINDS}


@pytest.fixture(autouse=True)
def _categories(db):
    from apps.complaints.defaults import ensure
    from apps.complaints.models import Category

    ensure(Category)


@pytest.fixture
def wired(fake_wechat, settings):  # noqa: F811
    settings.WECHAT_NOTICE_TEMPLATES = TEMPLATES
    for label in ("complaints", "reservations", "payments", "wechat"):
        apps.get_app_config(label).ready()
    return fake_wechat
