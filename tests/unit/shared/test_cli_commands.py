"""`parterre`'s commands: each service's module adds those it is listed for, and a command imports only its own."""

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.cli import CORE_COMMANDS, SERVICE_COMMANDS, _parser
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(("module", "names"), SERVICE_COMMANDS.items())
def test_each_service_module_adds_the_commands_it_is_listed_for(module: str, names: tuple[str, ...]) -> None:
    commands = argparse.ArgumentParser().add_subparsers()

    importlib.import_module(module).register(commands)

    assert tuple(commands.choices) == names


@pytest.mark.parametrize("argv", [["--help"], [], ["nonsense"]])
def test_help_or_an_unknown_command_lists_every_command(argv: list[str]) -> None:
    commands = next(action for action in _parser(argv)._actions if isinstance(action, argparse._SubParsersAction))

    every = [name for names in SERVICE_COMMANDS.values() for name in names] + list(CORE_COMMANDS)
    assert list(commands.choices) == every


def _service_modules_imported(argv: list[str]) -> list[str]:
    program = (
        "import json, sys; from shared.cli import _parser; _parser(sys.argv[1:]); "
        "print(json.dumps(sorted(name for name in sys.modules "
        "if name.startswith('services.') and name.endswith('.entrypoints.cli'))))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program, *argv], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    imported: list[str] = json.loads(ran.stdout)
    return imported


def test_a_command_imports_its_own_service_module_alone() -> None:
    assert _service_modules_imported(["identity", "resolve", "--input", "x"]) == ["services.identity.entrypoints.cli"]
    assert _service_modules_imported(["import", "boxoffice"]) == ["services.ingest.entrypoints.cli"]
    assert _service_modules_imported(["tokens", "list"]) == []


# What only a running service or a command opening the store or Kafka needs: a fifth to half a second of start-up.
SERVER_LIBRARIES = ("fastapi", "starlette", "faststream", "aiokafka", "pymongo", "prometheus_client")


def test_resolving_a_file_starts_without_the_server_libraries(tmp_path: Path) -> None:
    source = tmp_path / "people.jsonl"
    source.write_text(
        '{"record_id": "r1", "first_name": "Marie", "last_name": "Landry", "email": "marie@example.org"}\n'
        '{"record_id": "r2", "first_name": "Marie", "last_name": "Landry", "email": "marie@example.org"}\n',
        encoding="utf-8",
    )
    output = tmp_path / "persons.csv"
    program = (
        "import json, sys; from shared.cli import main; code = main(sys.argv[1:]); "
        f"print(json.dumps([code, sorted(name for name in {SERVER_LIBRARIES!r} if name in sys.modules)]))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program, "identity", "resolve", "--input", str(source), "--output", str(output)],
        cwd=REPO_ROOT,
        # Settings of this shell (a store URL with a password is checked by the store's driver) are not the test's.
        env={name: value for name, value in os.environ.items() if not name.startswith("PARTERRE_")},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert ran.returncode == 0, ran.stderr
    code, imported = json.loads(ran.stdout.splitlines()[-1])
    assert code == 0, ran.stderr
    rows = output.read_text(encoding="utf-8").splitlines()
    assert [row.split(",")[0] for row in rows] == ["record_id", "r1", "r2"]
    assert rows[1].split(",")[1] == rows[2].split(",")[1]
    assert imported == []
