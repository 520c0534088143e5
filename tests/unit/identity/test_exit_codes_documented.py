"""`parterre identity resolve --help` and `estimate --help` list every exit code the commands end with, and each
one listed is the code a run of that kind ends with, so that a script may branch on them."""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.identity.synthetic import generate_audience
from shared.cli import main

ELISE = {"record_id": "r1", "first_name": "Élise", "last_name": "Gagnon", "email": "elise@example.com"}
# Few random pairs keep each estimate well under a second.
QUICK = ("--random-pairs", "3000")


@pytest.fixture(autouse=True)
def bundled_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read the bundled policy and model unless the environment names others."""
    for name in ("PARTERRE_IDENTITY_POLICY_FILE", "PARTERRE_IDENTITY_MATCH_MODEL_FILE"):
        monkeypatch.delenv(name, raising=False)


def documented_exit_codes(command: str, capsys: pytest.CaptureFixture[str]) -> dict[int, str]:
    """The codes `--help` lists under "exit codes:", each with what it says of it."""
    with pytest.raises(SystemExit) as help_shown:
        main(["identity", command, "--help"])
    assert help_shown.value.code == 0
    shown = capsys.readouterr().out
    _before, heading, table = shown.partition("\nexit codes:\n")
    assert heading, shown
    codes: dict[int, str] = {}
    for line in table.splitlines():
        # A code's line starts with the code; the lines its text wraps onto are indented further.
        if (row := re.fullmatch(r"  (\d+) +(.+)", line)) is not None:
            codes[int(row[1])] = row[2]
    return codes


def lines_file(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def audience(tmp_path: Path) -> Path:
    records = generate_audience(150, seed=3)
    return lines_file(tmp_path / "history.jsonl", *(json.dumps(record.as_input()) for record in records))


def utf16(tmp_path: Path) -> Path:
    path = tmp_path / "powershell.jsonl"
    path.write_bytes((json.dumps(ELISE) + "\r\n").encode("utf-16"))
    return path


def utf32(tmp_path: Path) -> Path:
    path = tmp_path / "utf32.jsonl"
    path.write_bytes((json.dumps(ELISE) + "\r\n").encode("utf-32"))
    return path


def array(tmp_path: Path) -> Path:
    return lines_file(tmp_path / "array.jsonl", "[", f"  {json.dumps(ELISE)}", "]")


def interrupted(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    def stopped_by_ctrl_c(*arguments: Any, **options: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(where, stopped_by_ctrl_c)


# For each command, each exit code's runs: what the run is, its options besides `--output` given a folder to write
# files in, and what to set up first (with `monkeypatch`).
Run = tuple[str, Callable[[Path], list[str]], Callable[[pytest.MonkeyPatch], None] | None]
RUNS: dict[str, dict[int, list[Run]]] = {
    "resolve": {
        0: [("resolved", lambda tmp: ["--input", str(lines_file(tmp / "history.jsonl", json.dumps(ELISE)))], None)],
        1: [
            ("a JSON array over lines", lambda tmp: ["--input", str(array(tmp))], None),
            ("UTF-16", lambda tmp: ["--input", str(utf16(tmp))], None),
            ("UTF-32", lambda tmp: ["--input", str(utf32(tmp))], None),
            ("no record", lambda tmp: ["--input", str(lines_file(tmp / "empty.jsonl", ""))], None),
            (
                "every line skipped",
                lambda tmp: ["--input", str(lines_file(tmp / "bad.jsonl", '{"record_id": 1,'))],
                None,
            ),
            (
                "--strict",
                lambda tmp: ["--input", str(lines_file(tmp / "bad.jsonl", "{}", json.dumps(ELISE))), "--strict"],
                None,
            ),
        ],
        2: [
            ("no input file", lambda tmp: ["--input", str(tmp / "missing.jsonl")], None),
            (
                "--memory-mb too small",
                lambda tmp: ["--input", str(lines_file(tmp / "h.jsonl", json.dumps(ELISE))), "--memory-mb", "8"],
                None,
            ),
            (
                "an unknown --language",
                lambda tmp: ["--input", str(lines_file(tmp / "h.jsonl", json.dumps(ELISE))), "--language", "de"],
                None,
            ),
        ],
        130: [
            (
                "Ctrl-C",
                lambda tmp: ["--input", str(lines_file(tmp / "history.jsonl", json.dumps(ELISE)))],
                lambda monkeypatch: interrupted(monkeypatch, "services.identity.batch.active_person"),
            )
        ],
    },
    "estimate": {
        0: [("estimated", lambda tmp: ["--input", str(audience(tmp)), *QUICK], None)],
        1: [
            ("too few records", lambda tmp: ["--input", str(lines_file(tmp / "few.jsonl", json.dumps(ELISE)))], None),
            ("a JSON array over lines", lambda tmp: ["--input", str(array(tmp))], None),
            ("UTF-16", lambda tmp: ["--input", str(utf16(tmp))], None),
            ("UTF-32", lambda tmp: ["--input", str(utf32(tmp))], None),
        ],
        2: [
            ("no input file", lambda tmp: ["--input", str(tmp / "missing.jsonl")], None),
            ("--random-pairs 0", lambda tmp: ["--input", str(audience(tmp)), "--random-pairs", "0"], None),
        ],
        130: [
            (
                "Ctrl-C",
                lambda tmp: ["--input", str(audience(tmp)), *QUICK],
                lambda monkeypatch: interrupted(monkeypatch, "services.identity.entrypoints.cli.estimate_from_records"),
            )
        ],
    },
}


@pytest.mark.parametrize("command", RUNS)
def test_help_lists_exactly_the_exit_codes_a_run_ends_with(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert sorted(documented_exit_codes(command, capsys)) == sorted(RUNS[command])


@pytest.mark.parametrize(
    ("command", "code", "run"),
    [
        pytest.param(command, code, run, id=f"{command}-{code}-{run[0]}")
        for command, by_code in RUNS.items()
        for code, runs in by_code.items()
        for run in runs
    ],
)
def test_each_run_ends_with_the_exit_code_help_lists_for_it(
    command: str,
    code: int,
    run: Run,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert code in documented_exit_codes(command, capsys)
    _what, options, set_up = run
    arguments = options(tmp_path)
    if set_up is not None:
        set_up(monkeypatch)

    assert main(["identity", command, *arguments, "--output", str(tmp_path / "written")]) == code
