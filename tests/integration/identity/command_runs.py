"""Runs of identity's maintenance commands from a terminal against the real store, each set up to end with one of
the exit codes their `--help` lists: what their exit-code tests share."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import Document
from shared.settings import ServiceSettings
from tests.integration.terminal import run_from_terminal
from tests.unit.identity.test_exit_codes_documented import documented_exit_codes

# What to set up first in the store and the environment.
SetUp = Callable[[AsyncDatabase[Document], pytest.MonkeyPatch], Awaitable[None]]
# Each exit code's runs: what the run is, its options, and its set-up.
Runs = dict[int, list[tuple[str, list[str], SetUp]]]


def each_run(runs: Runs) -> list[Any]:
    """The runs as test parameters (code, options, set-up), each named by its code and what it is."""
    return [
        pytest.param(code, options, set_up, id=f"{code}-{what}")
        for code, listed in runs.items()
        for what, options, set_up in listed
    ]


def exit_code_tests(
    command: str, runs: Runs, environment: Mapping[str, str | None] = {}
) -> tuple[Callable[..., None], Callable[..., Awaitable[None]]]:
    """The two tests of a command's exit codes, for its module to name: its `--help` lists exactly the codes `runs`
    end with, and each run, once set up, ends with its code."""

    def help_lists_exactly_the_exit_codes_runs_end_with(capsys: pytest.CaptureFixture[str]) -> None:
        assert sorted(documented_exit_codes(command, capsys)) == sorted(runs)

    @pytest.mark.mongo
    @pytest.mark.parametrize(("code", "options", "set_up"), each_run(runs))
    async def each_run_ends_with_the_exit_code_help_lists_for_it(
        code: int,
        options: list[str],
        set_up: SetUp,
        settings: ServiceSettings,
        database: AsyncDatabase[Document],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        # The command opens the test's store; `environment` sets (or, with None, unsets) more variables first.
        assert code in documented_exit_codes(command, capsys)
        monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
        monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
        for name, value in environment.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        await set_up(database, monkeypatch)

        assert await run_from_terminal(["identity", command, *options]) == code

    return help_lists_exactly_the_exit_codes_runs_end_with, each_run_ends_with_the_exit_code_help_lists_for_it
