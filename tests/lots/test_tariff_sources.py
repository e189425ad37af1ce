"""Issue 6 item 12: the tariffs' source notes (依据), which staff read in the admin, are Chinese."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "tariffs" / "wuxi.json"
TARIFFS = json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("entry", TARIFFS, ids=[t["key"] for t in TARIFFS])
def test_every_source_note_is_written_in_chinese(entry):
    source = entry["source"]
    assert source
    assert set(re.findall(r"[A-Za-z]{2,}", source)) <= {"SPEC"}, source  # the contract's name, nothing else
    assert not entry["is_demo"] or source.startswith("演示值"), source
