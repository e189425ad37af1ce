"""apps/demo/guard.py: every demo command refuses production settings, through one check."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import translation

from apps.lots.models import Device, ParkingLot

PRODUCTION = "wuxi_parking.settings.production"

# Each command with arguments that would make it finish quickly (and differently) if it ran at all:
# simulate_city on an empty registry says there is nothing to simulate, run_city gives up waiting
# for its server at once.
COMMANDS = [
    ("seed_demo", ["--lots", "40"]),
    ("simulate_city", ["--url", "http://127.0.0.1:9", "--duration", "1"]),
    ("run_city", ["--port", "9", "--no-simulator", "--startup-timeout", "0"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("command", "args"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_demo_commands_refuse_production_settings(command, args):
    with override_settings(SETTINGS_MODULE=PRODUCTION), pytest.raises(CommandError, match="生产环境"):
        call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not ParkingLot.objects.exists()
    assert not Device.objects.exists()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_the_refusal_is_english_for_an_english_operator():
    with override_settings(SETTINGS_MODULE=PRODUCTION), translation.override("en"), \
            pytest.raises(CommandError, match="production settings"):
        call_command("simulate_city", "--duration", "1", stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize("module", ["wuxi_parking.settings.test", "wuxi_parking.settings.base"])
def test_other_settings_are_not_refused(module):
    with override_settings(SETTINGS_MODULE=module), pytest.raises(CommandError) as refused:
        call_command("simulate_city", "--duration", "1", stdout=io.StringIO())
    # It ran: on an empty registry it asks for seed_demo rather than refusing the settings.
    assert "seed_demo" in str(refused.value)
