"""The alert rules are valid and behave as their unit tests say (Debian's `promtool`; `make test` installs it)."""

import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS = Path(__file__).resolve().parents[2] / "infra" / "prometheus"


def _promtool(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package, which has it")
    return subprocess.run([promtool, *arguments], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_the_alert_rules_are_valid() -> None:
    checked = _promtool("check", "rules", "rules/parterre.yml", cwd=PROMETHEUS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "6 rules found" in checked.stdout


def test_each_alert_fires_when_it_should_and_not_otherwise() -> None:
    tested = _promtool("test", "rules", "parterre_test.yml", cwd=PROMETHEUS / "tests")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_scrape_configuration_is_valid() -> None:
    checked = _promtool("check", "config", "--syntax-only", "prometheus.yml", cwd=PROMETHEUS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
