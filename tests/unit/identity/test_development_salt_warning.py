"""Without a suppression salt, identity runs on the development salt and says so: the service in its log, the
`resolve` command to the person at the terminal, in the language they asked for."""

import json
import logging
from pathlib import Path

import pytest

from services.identity.bootstrap import create_app
from services.identity.settings import IdentitySettings
from shared.cli import main

ELISE = {"record_id": "r1", "first_name": "Élise", "last_name": "Gagnon", "email": "elise@example.com"}


@pytest.fixture(autouse=True)
def bundled_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads the bundled policy and model unless the environment names others."""
    for name in ("PARTERRE_IDENTITY_POLICY_FILE", "PARTERRE_IDENTITY_MATCH_MODEL_FILE"):
        monkeypatch.delenv(name, raising=False)


def resolve(tmp_path: Path, *options: str) -> int:
    source = tmp_path / "history.jsonl"
    source.write_text(json.dumps(ELISE) + "\n", encoding="utf-8")
    return main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv"), *options])


@pytest.mark.parametrize(
    ("asked", "warned"),
    [
        (("--language", "en"), "warning: PARTERRE_IDENTITY_SUPPRESSION_SALT is not set: using the development salt"),
        (
            ("--language", "fr"),
            "avertissement : PARTERRE_IDENTITY_SUPPRESSION_SALT n'est pas défini : le sel de développement est utilisé",
        ),
    ],
)
def test_resolving_without_a_salt_warns_once_in_the_language_asked_for(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    asked: tuple[str, ...],
    warned: str,
) -> None:
    monkeypatch.delenv("PARTERRE_IDENTITY_SUPPRESSION_SALT", raising=False)

    assert resolve(tmp_path, *asked) == 0

    stderr = capsys.readouterr().err.splitlines()
    assert stderr[0] == warned
    assert [line for line in stderr if "SUPPRESSION_SALT" in line] == [warned]
    # Said to the person at the terminal, not also logged in English.
    assert "SUPPRESSION_SALT" not in caplog.text


def test_resolving_with_a_salt_says_nothing_of_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARTERRE_IDENTITY_SUPPRESSION_SALT", "the-box-office-s-salt")

    assert resolve(tmp_path, "--language", "fr") == 0

    assert "SUPPRESSION_SALT" not in capsys.readouterr().err + caplog.text


@pytest.mark.parametrize(("salt", "warnings"), [("", 1), ("the-service-s-salt", 0)])
def test_the_service_warns_in_its_log_in_english_when_it_starts_without_a_salt(
    caplog: pytest.LogCaptureFixture, salt: str, warnings: int
) -> None:
    with caplog.at_level(logging.WARNING):
        create_app(IdentitySettings(identity_suppression_salt=salt))

    said = [record.getMessage() for record in caplog.records if "SUPPRESSION_SALT" in record.getMessage()]
    assert said == ["PARTERRE_IDENTITY_SUPPRESSION_SALT is not set: using the development salt"] * warnings
