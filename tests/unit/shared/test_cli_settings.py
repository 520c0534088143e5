"""A bad setting in the environment stops any `parterre` command with a line naming what to fix, never a traceback
or pydantic's own report."""

from pathlib import Path

import pytest

from shared.cli import main


@pytest.mark.parametrize(
    ("environment", "command", "said"),
    [
        (
            {"PARTERRE_MAX_BATCH_EVENTS": "0"},
            ["sources", "list"],
            "error: PARTERRE_MAX_BATCH_EVENTS: Input should be greater than or equal to 1\n",
        ),
        (
            {"PARTERRE_MAX_BATCH_EVENTS": "lots"},
            ["import", "boxoffice", "never-read.csv", "--source", "nord"],
            "error: PARTERRE_MAX_BATCH_EVENTS: Input should be a valid integer, unable to parse string as an integer\n",
        ),
        (
            {"PARTERRE_CLAIM_ABANDONED_AFTER_SECONDS": "1", "PARTERRE_PUBLISH_TIMEOUT_SECONDS": "5"},
            ["sources", "list"],
            "error: settings: claim_abandoned_after_seconds must be longer than publish_timeout_seconds: a claim "
            "taken for abandoned while its publisher still waits for Kafka would be published twice\n",
        ),
    ],
    ids=["out-of-range", "not-a-number", "two-settings-together"],
)
def test_a_bad_setting_stops_a_command_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str],
    command: list[str],
    said: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert main(command) == 2
    assert capsys.readouterr().err == said


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("fr_CA.UTF-8", "erreur : PARTERRE_HTTP_PORT : doit être plus grand ou égal à 1\n"),
        ("en_US.UTF-8", "error: PARTERRE_HTTP_PORT: Input should be greater than or equal to 1\n"),
    ],
)
def test_a_command_that_speaks_french_names_a_bad_setting_in_french_under_a_french_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, locale: str, said: str
) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text('{"record_id": "r1", "email": "anne@example.com"}\n')
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", locale)
    monkeypatch.setenv("PARTERRE_HTTP_PORT", "0")

    assert main(["identity", "resolve", "--input", str(records), "--output", str(tmp_path / "resolved.jsonl")]) == 2
    assert capsys.readouterr().err == said
