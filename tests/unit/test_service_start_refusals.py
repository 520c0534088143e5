"""A service started with a setting or a rules file it cannot use says what to fix, in one line each: no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

BAD_TRIGGERS = """\
triggers:
  lapsed-donor:
    title: {fr: Relance, en: Win back}
    description: Donors who gave nothing for a year
    when: {field: last_donation_at, op: older_than, value: 12 monts}
    period: once
"""


def start(service: str, environment: dict[str, str], *, locale: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    # Nothing listens on port 1: a service that got as far as connecting would say so, not what this test reads.
    unreachable = {"PARTERRE_MONGO_URL": "mongodb://127.0.0.1:1/", "PARTERRE_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    # The locale the service speaks by (English for C), whatever this machine's is.
    language = {"LC_ALL": locale, "LC_MESSAGES": "", "LANG": "", "LANGUAGE": ""}
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        cwd=REPO_ROOT,
        env={**os.environ, **unreachable, **language, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_rules_file_with_a_mistake_stops_the_service_naming_the_line(tmp_path: Path) -> None:
    triggers = tmp_path / "triggers.yaml"
    triggers.write_text(BAD_TRIGGERS)

    started = start("profile", {"PARTERRE_PROFILE_TRIGGERS_FILE": str(triggers)})

    assert started.returncode == 2, started.stderr
    assert "Traceback" not in started.stderr
    [line] = [line for line in started.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {triggers}, line 5: ")
    assert "monts" in line


@pytest.mark.parametrize(
    ("service", "variable", "value"),
    [("profile", "PARTERRE_PROFILE_TIMEZONE", "Europe/Pariss"), ("ingest", "PARTERRE_LOG_LEVEL", "LOUD")],
)
def test_a_bad_setting_stops_the_service_naming_the_variable(service: str, variable: str, value: str) -> None:
    started = start(service, {variable: value})

    assert started.returncode == 2, started.stderr
    assert "Traceback" not in started.stderr
    assert started.stderr.startswith(f"error: {variable}: ")


def test_a_service_started_under_a_french_locale_names_a_bad_setting_in_french() -> None:
    started = start("ingest", {"PARTERRE_LOG_LEVEL": "LOUD"}, locale="fr_CA.UTF-8")

    assert started.returncode == 2, started.stderr
    assert started.stderr == (
        "erreur : PARTERRE_LOG_LEVEL : doit être l'une de ces valeurs : 'DEBUG', 'INFO', 'WARNING' ou 'ERROR'\n"
    )
