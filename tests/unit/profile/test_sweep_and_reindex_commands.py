"""`parterre profile sweep` and `reindex-lookups` end with a line saying what went wrong, and exit 1, when they fail."""

import pytest

from services.profile.entrypoints import cli as profile_cli
from services.profile.handlers import SweepReport
from shared.cli import main


def test_a_sweep_that_cannot_reach_kafka_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/")

    assert main(["profile", "sweep"]) == 1
    errors = capsys.readouterr().err
    assert "error: Kafka: " in errors
    assert "Traceback" not in errors


def test_a_reindex_that_cannot_reach_the_store_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/")

    assert main(["profile", "reindex-lookups"]) == 1
    errors = capsys.readouterr().err
    assert "error: the store: " in errors
    assert "Traceback" not in errors


def test_a_sweep_that_could_not_visit_some_profiles_exits_1_saying_how_many(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def sweep_with_failures(*_arguments: object) -> SweepReport:
        return SweepReport(slots=3, outcomes={"swept": 5, "failed": 2})

    monkeypatch.setattr(profile_cli, "_sweep", sweep_with_failures)

    assert main(["profile", "sweep"]) == 1
    output = capsys.readouterr()
    assert output.out == "swept 3 slots of time; profiles visited: 2 failed, 5 swept\n"
    assert output.err.startswith("error: 2 profiles could not be visited")
