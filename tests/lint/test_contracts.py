"""lint/contracts.py and .importlinter: the layer contracts `make lint` checks, run as CI runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

CONFIG = """
[importlinter]
root_packages =
    town
contract_types =
    planned_forbidden: lint.contracts.PlannedForbiddenContract

[importlinter:contract:registry]
name = registry imports nothing above it
type = planned_forbidden
source_modules =
    town.registry
forbidden_modules =
{forbidden}
planned_modules =
{planned}
"""


def _lint(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _town(tmp_path: Path, modules: dict[str, str], *, forbidden: list[str], planned: list[str]) -> Path:
    """A throwaway package ``town`` with the given modules (dotted name → source) and a config."""
    for dotted, source in {"town": "", **modules}.items():
        path = tmp_path.joinpath(*dotted.split("."))
        path.mkdir(parents=True, exist_ok=True)
        (path / "__init__.py").write_text(textwrap.dedent(source))
    indent = lambda names: "\n".join(f"    {name}" for name in names)  # noqa: E731
    (tmp_path / ".importlinter").write_text(CONFIG.format(forbidden=indent(forbidden), planned=indent(planned)))
    return tmp_path


def test_a_planned_app_that_does_not_exist_yet_is_skipped(tmp_path):
    root = _town(tmp_path, {"town.registry": "", "town.sessions": ""},
                 forbidden=["town.sessions", "town.payments"], planned=["town.payments"])
    result = _lint(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_existing_forbidden_modules_are_still_checked_beside_planned_ones(tmp_path):
    root = _town(tmp_path, {"town.registry": "import town.sessions\n", "town.sessions": ""},
                 forbidden=["town.sessions", "town.payments"], planned=["town.payments"])
    result = _lint(root)
    assert result.returncode == 1
    assert "town.registry -> town.sessions" in result.stdout


def test_a_planned_app_is_checked_the_day_it_lands(tmp_path):
    root = _town(tmp_path, {"town.registry": "from town.payments import orders\n", "town.payments": "",
                            "town.payments.orders": ""},
                 forbidden=["town.payments"], planned=["town.payments"])
    result = _lint(root)
    assert result.returncode == 1
    assert "town.registry -> town.payments.orders" in result.stdout


def test_a_missing_module_that_is_not_planned_is_an_error_not_a_silent_pass(tmp_path):
    root = _town(tmp_path, {"town.registry": ""}, forbidden=["town.sesions"], planned=[])
    result = _lint(root)
    assert result.returncode == 1
    assert "town.sesions" in result.stdout + result.stderr


def test_planned_modules_must_be_forbidden_ones(tmp_path):
    root = _town(tmp_path, {"town.registry": "", "town.sessions": ""},
                 forbidden=["town.sessions"], planned=["town.payments"])
    result = _lint(root)
    assert result.returncode == 1
    assert "planned_modules must also be forbidden_modules: town.payments" in result.stdout + result.stderr


@pytest.mark.parametrize("contract", ["registry", "demo", "channel-layer", "fee-engine", "sessions"])
def test_the_project_keeps_its_layer_contract(contract):
    """The project's own .importlinter, one contract at a time, as `make lint` runs it."""
    result = _lint(REPO, "--contract", contract)
    assert result.returncode == 0, result.stdout + result.stderr
