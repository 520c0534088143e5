"""`parterre`'s commands: each service's module adds those it is listed for, and a command imports only its own."""

import argparse
import importlib
import json
import subprocess
import sys

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
