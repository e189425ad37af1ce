"""``manage.py issue_device_key``: one JSON line with the access key and the secret, or an error."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.lots.credentials import decrypt_secret
from apps.lots.models import Device
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_device_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_exactly_one_json_line(city):
    first = LotFactory(code="LX-0001", region=city["320213"])
    second = LotFactory(code="LX-0002", region=city["320213"])
    out, err = run("--lot", "LX-0001", "--lot", "lx-0002", "--name", "崇安寺道闸")
    lines = out.splitlines()
    assert len(lines) == 1 and err == ""
    payload = json.loads(lines[0])
    assert set(payload) == {"access_key", "secret"}
    device = Device.objects.get()
    assert device.access_key == payload["access_key"] and device.name == "崇安寺道闸"
    assert decrypt_secret(device.secret_encrypted) == payload["secret"]
    assert payload["secret"] not in device.secret_encrypted
    assert set(device.lots.all()) == {first, second}


def test_unknown_lot_is_an_error_and_creates_nothing(city):
    LotFactory(code="LX-0001", region=city["320213"])
    with pytest.raises(CommandError, match="NOPE-1"):
        run("--lot", "LX-0001", "--lot", "NOPE-1")
    assert not Device.objects.exists()


@pytest.mark.django_db(transaction=True)  # run_from_argv closes the connection when it is done
def test_unknown_lot_exits_non_zero_with_message_on_stderr(city, capsys):
    from apps.lots.management.commands.issue_device_key import Command

    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "issue_device_key", "--lot", "NOPE-1"])
    assert exit_info.value.code != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "NOPE-1" in captured.err
    assert not Device.objects.exists()


def test_lot_is_required():
    with pytest.raises(CommandError):
        run()
