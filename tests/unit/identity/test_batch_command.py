"""`parterre identity resolve`: an organisation's history from a JSON Lines file to `record_id,person_id`."""

import csv
import errno
import json
import math
import os
import re
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from services.identity import batch, prepared_input
from services.identity.batch import LineOrderClock
from services.identity.handlers import active_person
from services.identity.settings import IdentitySettings
from shared.cli import main

ELISE = {"first_name": "Élise", "last_name": "Gagnon"}


@pytest.fixture(autouse=True)
def bundled_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command reads the bundled policy and model unless the environment names others."""
    for name in ("PARTERRE_IDENTITY_POLICY_FILE", "PARTERRE_IDENTITY_MATCH_MODEL_FILE"):
        monkeypatch.delenv(name, raising=False)


def jsonl(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def run(tmp_path: Path, *lines: dict[str, Any] | str, options: tuple[str, ...] = ()) -> int:
    source = jsonl(tmp_path / "history.jsonl", *lines)
    return main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv"), *options])


def rows(tmp_path: Path) -> list[list[str]]:
    with (tmp_path / "persons.csv").open(encoding="utf-8", newline="") as output:
        return list(csv.reader(output))


def assignments(tmp_path: Path) -> dict[str, str]:
    header, *body = rows(tmp_path)
    assert header == ["record_id", "person_id"]
    assert all(len(row) == 2 for row in body)
    return {row[0]: row[1] for row in body}


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("line ")]


def summary(stderr: str) -> dict[str, Any]:
    last: dict[str, Any] = json.loads(stderr.strip().splitlines()[-1])
    return last


def test_the_output_is_a_csv_with_exactly_the_header_and_one_row_per_record(tmp_path: Path) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com", **ELISE},
        "",
        {"record_id": "r2", "source": "billetterie", "external_id": "C-7", "first_name": "Jean"},
        {"record_id": "r3", "phone": "418 555 0123"},
    )
    assert code == 0
    assert (tmp_path / "persons.csv").read_text(encoding="utf-8").splitlines()[0] == "record_id,person_id"
    output = rows(tmp_path)
    assert [record_id for record_id, _ in output[1:]] == ["r1", "r2", "r3"]
    assert all(person_id.startswith("per_") for _, person_id in output[1:])
    assert len({person_id for _, person_id in output[1:]}) == 3


def test_two_lines_with_the_same_email_name_the_same_person(tmp_path: Path) -> None:
    run(
        tmp_path,
        {"record_id": "r1", "email": "elise.gagnon@example.com", **ELISE},
        {"record_id": "r2", "email": "Elise.Gagnon@Example.COM", "first_name": "Elise"},
        {"record_id": "r3", "email": "jean.roy@example.com", "first_name": "Jean", "last_name": "Roy"},
    )
    found = assignments(tmp_path)
    assert found["r1"] == found["r2"] != found["r3"]


def test_a_later_line_that_merges_two_earlier_persons_makes_all_their_rows_name_the_survivor(
    tmp_path: Path,
) -> None:
    box_office = {"record_id": "r1", "source": "billetterie", "external_id": "C-1", **ELISE}
    shop = {"record_id": "r2", "source": "boutique", "external_id": "207", "email": "elise@example.com", **ELISE}
    run(tmp_path, box_office, shop)
    apart = assignments(tmp_path)
    assert apart["r1"] != apart["r2"]

    both = {"record_id": "r3", "source": "billetterie", "external_id": "C-1", "email": "elise@example.com", **ELISE}
    again = {"record_id": "r4", "source": "boutique", "external_id": "207"}
    run(tmp_path, box_office, shop, both, again)
    together = assignments(tmp_path)
    assert together == dict.fromkeys(["r1", "r2", "r3", "r4"], apart["r1"])


def test_the_batch_clock_never_gives_one_moment_twice_so_lines_create_persons_in_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fast machine resolves many lines in one millisecond: the earliest created person would then be the one with
    # the smaller id, not the one of the earlier line, and a merge's survivor would change from run to run.
    frozen = datetime(2026, 11, 15, 19, 0, 0, 123_456, tzinfo=UTC)
    monkeypatch.setattr(batch, "time_ns", lambda: int(frozen.timestamp()) * 10**9 + frozen.microsecond * 1000)
    clock = LineOrderClock()

    moments = [clock.now() for _ in range(3)]

    assert moments == [frozen.replace(microsecond=123_000) + timedelta(milliseconds=n) for n in range(3)]


def test_the_same_file_gives_the_same_person_ids_on_every_run(tmp_path: Path) -> None:
    lines = [
        {"record_id": "r1", "email": "elise@example.com", **ELISE},
        {"record_id": "r2", "first_name": "Jean", "last_name": "Roy", "postal_code": "H2J 2L1"},
    ]
    run(tmp_path, *lines)
    first = rows(tmp_path)
    run(tmp_path, *lines)
    assert rows(tmp_path) == first


def test_a_malformed_line_is_reported_with_its_number_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com"},
        '{"record_id": "r2", "email": ',
        '["not", "an", "object"]',
        {"record_id": "r4", "email": ["two@example.com", "addresses@example.com"]},
        {"email": "no-id@example.com"},
        {"record_id": "r6", "email": "jean@example.com"},
    )
    assert code == 0
    assert list(assignments(tmp_path)) == ["r1", "r6"]
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 2: skipped: not valid JSON: Expecting value at column 30",
        "line 3: skipped: a line must be a JSON object, not an array",
        "line 4: ignored email: it must be text, not an array",
        "line 4: skipped: names nobody: it needs an external_id, an email, a phone, or first and last names",
        "line 5: skipped: `record_id` is required",
    ]
    assert summary(stderr) == {"lines": 6, "resolved": 2, "skipped": 4, "warnings": 1, "outcomes": {"new": 2}}


def test_a_file_whose_every_line_is_skipped_exits_1_saying_what_the_input_is_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "persons.csv").write_text("record_id,person_id\nold,per_1\n", encoding="utf-8")

    # A JSON array on one line, as many exports write it.
    code = run(tmp_path, '[{"record_id": "r1", "email": "elise@example.com"}, {"record_id": "r2"}]')

    assert code == 1
    stderr = capsys.readouterr().err
    assert "none of the 1 lines held a record to resolve; nothing written" in stderr
    assert "one JSON object per line, not a JSON array" in stderr
    assert assignments(tmp_path) == {"old": "per_1"}


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_input_exits_1_and_keeps_the_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    # A box-office export that failed leaves an empty file: the last run's persons must not give way to a header.
    (tmp_path / "persons.csv").write_text("record_id,person_id\nold,per_1\n", encoding="utf-8")
    (tmp_path / "history.jsonl").write_text(content, encoding="utf-8")

    code = main(
        ["identity", "resolve", "--input", str(tmp_path / "history.jsonl"), "--output", str(tmp_path / "persons.csv")]
    )

    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: the input holds no record, only blank lines if any; nothing written"
    )
    assert assignments(tmp_path) == {"old": "per_1"}


def test_a_file_of_records_that_all_name_nobody_exits_1_without_blaming_its_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(tmp_path, {"record_id": "r1", "first_name": "Élise"}, {"record_id": "r2", "city": "Montréal"})

    assert code == 1
    stderr = capsys.readouterr().err
    assert stderr.splitlines()[-1] == (
        "error: none of the 2 lines held a record to resolve; nothing written: the reason each was skipped is above"
    )
    assert not (tmp_path / "persons.csv").exists()


def test_a_file_of_json_objects_all_without_a_record_id_exits_1_without_blaming_its_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # JSON Lines whose id column kept the spreadsheet's name.
    code = run(tmp_path, {"id": "r1", "email": "elise@example.com"}, {"id": "r2", "email": "jean@example.com"})

    assert code == 1
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 1: skipped: `record_id` is required",
        "line 2: skipped: `record_id` is required",
    ]
    assert stderr.splitlines()[-1] == (
        "error: none of the 2 lines held a record to resolve; nothing written: the reason each was skipped is above"
    )
    assert not (tmp_path / "persons.csv").exists()


@pytest.mark.parametrize("opening", ["[", "\ufeff[", '[{"record_id": "r0", "email": "anne@example.com"},'])
def test_a_json_array_written_over_lines_is_refused_before_any_work_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], opening: str
) -> None:
    (tmp_path / "persons.csv").write_text("record_id,person_id\nold,per_1\n", encoding="utf-8")

    code = run(
        tmp_path,
        "",
        opening,
        '  {"record_id": "r1", "email": "elise@example.com"},',
        '  {"record_id": "r2", "email": "jean@example.com"}',
        "]",
    )

    # Read line by line, the last object (no comma after it) would have been resolved alone, the others skipped.
    assert code == 1
    assert "holds a JSON array written over several lines, not JSON Lines" in capsys.readouterr().err
    assert assignments(tmp_path) == {"old": "per_1"}


def test_a_line_naming_nobody_is_skipped_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(tmp_path, {"record_id": "r1", "first_name": "Élise", "city": "Montréal"}, {"record_id": "r2", **ELISE})
    assert list(assignments(tmp_path)) == ["r2"]
    assert problem_lines(capsys.readouterr().err) == [
        "line 1: skipped: names nobody: it needs an external_id, an email, a phone, or first and last names"
    ]


def test_a_line_whose_only_identifiers_are_values_the_policy_blocks_is_skipped_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "phone": "514 555 1234"},
        {"record_id": "r2", "email": "Info@Theatre.example", "phone": "514-555-5555", "city": "Montréal"},
        {"record_id": "r3", "source": "billetterie", "external_id": "GUEST"},
        {"record_id": "r4", **ELISE},
    )
    assert code == 0
    assert list(assignments(tmp_path)) == ["r4"]
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 1: skipped: names nobody: phone '514 555 1234' is a shared or placeholder value the identifier policy "
        "blocks, which links nobody; it needs an external_id, an email, a phone, or first and last names",
        "line 2: skipped: names nobody: email 'Info@Theatre.example' and phone '514-555-5555' are shared or "
        "placeholder values the identifier policy blocks, which link nobody; it needs an external_id, an email, a "
        "phone, or first and last names",
        "line 3: skipped: names nobody: external_id 'GUEST' is a shared or placeholder value the identifier policy "
        "blocks, which links nobody; it needs an external_id, an email, a phone, or first and last names",
    ]
    # Said once, in the reason the line is skipped, not again as a warning.
    assert summary(stderr)["warnings"] == 0


def test_a_blocked_email_or_phone_beside_names_is_a_warning_and_the_record_is_resolved_on_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "billetterie@theatre.example", "phone": "514 555 1234", **ELISE},
        {"record_id": "r2", "email": "info@theatre.example", "phone": "514 555 0199", "first_name": "Jean"},
        options=("--strict",),
    )
    assert code == 0
    found = assignments(tmp_path)
    # The address they share is no evidence that they are one person.
    assert list(found) == ["r1", "r2"]
    assert found["r1"] != found["r2"]
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 1: ignored email 'billetterie@theatre.example' and phone '514 555 1234': shared or placeholder values "
        "the identifier policy blocks link nobody",
        "line 2: ignored email 'info@theatre.example': a shared or placeholder value the identifier policy blocks "
        "links nobody",
    ]
    assert summary(stderr)["warnings"] == 2


def test_a_record_id_used_twice_is_reported_and_only_its_first_line_is_resolved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        tmp_path,
        {"record_id": "r1", "email": "anne@example.com", "first_name": "Anne"},
        {"record_id": "r1", "email": "paul@example.com", "first_name": "Paul"},
        {"record_id": "r3", "email": "paul@example.com", "first_name": "Paul"},
    )
    found = assignments(tmp_path)
    assert list(found) == ["r1", "r3"]
    assert found["r1"] != found["r3"]
    assert problem_lines(capsys.readouterr().err) == ["line 2: skipped: `record_id` 'r1' was already used on line 1"]


@pytest.mark.parametrize("padded", [" r1 ", "r1 ", "\tr1", "r1\u00a0", "\u2003r1\u3000", "r1\n"])
def test_a_record_id_comes_back_exactly_as_given_so_the_output_joins_back_to_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], padded: str
) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com"},
        {"record_id": padded, "email": "jean@example.com"},
        {"record_id": "\u00a0\u2003", "email": "anne@example.com"},
    )
    assert code == 0
    # Ids that differ only by their spaces are two ids, each row as its line wrote it; spaces alone are no id.
    assert list(assignments(tmp_path)) == ["r1", padded]
    assert problem_lines(capsys.readouterr().err) == ["line 3: skipped: `record_id` is required"]


def test_an_id_with_spaces_at_its_ends_is_quoted_so_that_readers_trimming_bare_fields_keep_them(
    tmp_path: Path,
) -> None:
    run(tmp_path, {"record_id": " r1 ", "email": "elise@example.com"}, {"record_id": "r 2", **ELISE})
    lines = (tmp_path / "persons.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith('" r1 ",')
    assert lines[2].startswith("r 2,")


def test_strict_stops_at_the_first_unusable_line_with_exit_code_1_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com"},
        {"record_id": "r2", "email": "jean@example.com"},
        "{oops",
        {"record_id": "r4", "email": "anne@example.com"},
        options=("--strict",),
    )
    assert code == 1
    stderr = capsys.readouterr().err
    assert (
        "error: line 3: not valid JSON: Expecting property name enclosed in double quotes at column 2 (--strict)"
        in stderr.splitlines()
    )
    assert not (tmp_path / "persons.csv").exists()


def test_on_a_terminal_the_reason_a_run_stopped_starts_a_line_of_its_own_after_the_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com"},
        "not json",
        options=("--strict",),
    )
    assert code == 1
    stderr = capsys.readouterr().err
    assert "\r" in stderr
    assert stderr.endswith("\nerror: line 2: not valid JSON: Expecting value at column 1 (--strict)\n")


def test_strict_also_stops_at_a_repeated_record_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "anne@example.com"},
        {"record_id": "r1", "email": "paul@example.com"},
        options=("--strict",),
    )
    assert code == 1
    assert "error: line 2: `record_id` 'r1' was already used on line 1 (--strict)" in capsys.readouterr().err


def test_an_impossible_birth_date_or_a_garbled_phone_is_a_warning_and_the_record_is_still_resolved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com", "birth_date": "1984-02-30", **ELISE},
        {"record_id": "r2", "email": "jean@example.com", "phone": "514-55", "first_name": "Jean"},
        options=("--strict",),
    )
    assert code == 0
    assert list(assignments(tmp_path)) == ["r1", "r2"]
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 1: ignored birth_date: '1984-02-30' is not a real calendar date",
        "line 2: ignored phone: '514-55' is not a valid phone number",
    ]
    assert summary(stderr)["warnings"] == 2


def test_a_field_of_the_wrong_kind_or_too_long_is_a_warning_and_the_record_is_resolved_on_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com", "phone": 5145550199.0, **ELISE},
        {"record_id": "r2", "email": "elise@example.com", "street": "x" * 1001, "city": ["Montréal"]},
        {"record_id": "r3", "phone": 5145550123, "postal_code": 75001},
        options=("--strict",),
    )
    assert code == 0
    found = assignments(tmp_path)
    assert list(found) == ["r1", "r2", "r3"]
    assert found["r1"] == found["r2"] != found["r3"]
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 1: ignored phone: it must be text, not a decimal number",
        "line 2: ignored street: it is longer than 1000 characters",
        "line 2: ignored city: it must be text, not an array",
    ]
    assert summary(stderr)["warnings"] == 3


def test_an_external_id_without_its_source_is_a_warning_not_silently_unused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        tmp_path,
        {"record_id": "r1", "external_id": "C-7", **ELISE},
        {"record_id": "r2", "external_id": "C-7"},
        {"record_id": "r3", "source": "billetterie", "external_id": "C-8"},
    )
    assert list(assignments(tmp_path)) == ["r1", "r3"]
    assert problem_lines(capsys.readouterr().err) == [
        "line 1: ignored external_id: it needs the `source` whose id it is",
        "line 2: ignored external_id: it needs the `source` whose id it is",
        "line 2: skipped: names nobody: it needs an external_id, an email, a phone, or first and last names",
    ]


def test_a_record_id_of_the_wrong_kind_makes_the_line_malformed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, {"record_id": 1.0, "email": "elise@example.com"}, {"record_id": 2, "email": "jean@example.com"})
    assert list(assignments(tmp_path)) == ["2"]
    assert problem_lines(capsys.readouterr().err) == ["line 1: skipped: `record_id` must be text, not a decimal number"]


@pytest.mark.parametrize("record_id", ["C-7, balcon", 'the "A" list', "two\nlines", "cut\rshort", "crlf\r\nend"])
def test_a_record_id_with_a_comma_a_quote_or_a_line_break_comes_back_whole_from_the_csv(
    tmp_path: Path, record_id: str
) -> None:
    code = run(tmp_path, {"record_id": record_id, "email": "elise@example.com"}, {"record_id": "r2", **ELISE})
    assert code == 0
    assert list(assignments(tmp_path)) == [record_id, "r2"]


def test_unknown_fields_are_named_as_a_warning_so_a_misspelt_column_is_noticed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, {"record_id": "r1", "courriel": "elise@example.com", "prenom": "Élise", "phone": "514 555 0199"})
    assert list(assignments(tmp_path)) == ["r1"]
    assert problem_lines(capsys.readouterr().err) == ["line 1: ignored unknown fields: courriel, prenom"]


def test_a_file_that_starts_with_a_byte_order_mark_loses_no_record(tmp_path: Path) -> None:
    source = tmp_path / "excel.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + json.dumps({"record_id": "r1", "email": "elise@example.com"}).encode() + b"\n")
    code = main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")])
    assert code == 0
    assert list(assignments(tmp_path)) == ["r1"]


def test_a_line_that_is_not_utf8_is_read_as_windows_1252_with_a_warning_and_its_names_still_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    helene = {"first_name": "Hélène", "last_name": "Bélanger", "email": "helene@example.com"}
    source = tmp_path / "export.jsonl"
    source.write_bytes(
        json.dumps({"record_id": "r1", **helene}, ensure_ascii=False).encode("utf-8")
        + b"\n"
        + json.dumps({"record_id": "r2", **helene}, ensure_ascii=False).encode("cp1252")
        + b"\n"
        + json.dumps({"record_id": "r3", **helene, "city": "Montréal"}, ensure_ascii=False).encode("latin-1")
        + b"\n"
    )
    code = main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")])
    assert code == 0
    found = assignments(tmp_path)
    assert list(found) == ["r1", "r2", "r3"]
    assert len(set(found.values())) == 1
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 2: not valid UTF-8: read as Windows-1252",
        "line 3: not valid UTF-8: read as Windows-1252",
    ]
    assert summary(stderr)["warnings"] == 2


@pytest.mark.parametrize("organisation", ["Théâtre du Nord", "x", "-nord"])
def test_an_invalid_organisation_id_exits_2_before_reading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], organisation: str
) -> None:
    code = run(tmp_path, {"record_id": "r1", "email": "elise@example.com"}, options=(f"--org={organisation}",))
    assert code == 2
    assert capsys.readouterr().err.startswith(f"error: --org: organisation id {organisation!r} must be")
    assert not (tmp_path / "persons.csv").exists()


def test_a_valid_organisation_id_is_accepted(tmp_path: Path) -> None:
    assert run(tmp_path, {"record_id": "r1", "email": "elise@example.com"}, options=("--org", "theatre-du-nord")) == 0
    assert list(assignments(tmp_path)) == ["r1"]


def test_an_input_that_is_not_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.jsonl"
    code = main(["identity", "resolve", "--input", str(missing), "--output", str(tmp_path / "persons.csv")])
    assert code == 2
    assert capsys.readouterr().err == f"error: {missing} is not a file\n"


def test_a_policy_file_with_a_mistake_exits_2_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("identifiers:\n  email: {priority: 80, max_per_person: 5, merges: true, confidence: 1.0}\n")
    code = run(tmp_path, {"record_id": "r1", "email": "e@example.com"}, options=("--policy", str(policy)))
    assert code == 2
    assert f"error: {policy}, line 1: `identifiers`: Value error, every identifier type needs a rule" in (
        capsys.readouterr().err
    )


def test_an_output_there_already_keeps_its_permissions_and_a_link_stays_a_link(tmp_path: Path) -> None:
    kept = tmp_path / "shared" / "persons.csv"
    kept.parent.mkdir()
    kept.write_text("record_id,person_id\nold,per_1\n", encoding="utf-8")
    kept.chmod(0o640)
    (tmp_path / "persons.csv").symlink_to(kept)

    assert run(tmp_path, {"record_id": "r1", **ELISE}) == 0

    assert (tmp_path / "persons.csv").is_symlink()
    assert list(assignments(tmp_path)) == ["r1"]
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert sorted(path.name for path in kept.parent.iterdir()) == ["persons.csv"]


def test_a_policy_file_not_saved_as_utf8_exits_2_naming_the_file_and_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundled = IdentitySettings().policy_path().read_text(encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    # An editor saving in Windows-1252 after a comment with an accent was added on the first line.
    policy.write_bytes(("# Politique révisée\n" + bundled).encode("cp1252", errors="replace"))

    code = run(tmp_path, {"record_id": "r1", "email": "e@example.com"}, options=("--policy", str(policy)))

    assert code == 2
    assert f"error: {policy}, line 1: the file is not UTF-8 text" in capsys.readouterr().err
    assert not (tmp_path / "persons.csv").exists()


def test_a_model_file_with_a_mistake_exits_2_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.yaml"
    model.write_text("bands:\n  link_at: 0.99\n  review_at: lots\n")
    code = run(tmp_path, {"record_id": "r1", "email": "e@example.com"}, options=("--model", str(model)))
    assert code == 2
    assert f"error: {model}, line 3: `bands.review_at` should be a number, not 'lots'" in capsys.readouterr().err


def test_a_policy_given_on_the_command_line_is_the_one_used(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "identifiers:\n"
        "  external_id: {priority: 100, max_per_person: 5, merges: true, confidence: 1.0}\n"
        "  email: {priority: 80, max_per_person: 5, merges: true, confidence: 1.0}\n"
        "  phone: {priority: 60, max_per_person: 3, merges: false, confidence: 0.9}\n"
        "blocked:\n  emails: ['famille.*@example.com']\n"
    )
    lines = [
        {"record_id": "r1", "email": "famille.roy@example.com", "first_name": "Anne", "last_name": "Roy"},
        {"record_id": "r2", "email": "famille.roy@example.com", "first_name": "Anne", "last_name": "Tremblay"},
    ]
    run(tmp_path, *lines)
    assert len(set(assignments(tmp_path).values())) == 1
    run(tmp_path, *lines, options=("--policy", str(policy)))
    assert len(set(assignments(tmp_path).values())) == 2


def test_report_writes_the_counts_and_problems_as_json(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code = run(
        tmp_path,
        {"record_id": "r1", "email": "elise@example.com", **ELISE},
        {"record_id": "r2", "email": "elise@example.com", "first_name": "Elise"},
        "not json",
        {"record_id": "r4", "source": "billetterie", "external_id": "C-1", "phone": "12", **ELISE},
        "",
        {"record_id": "r6", "source": "billetterie", "external_id": "C-1"},
        options=("--report", str(report)),
    )
    assert code == 0
    assert json.loads(report.read_text(encoding="utf-8")) == {
        "lines": 6,
        "resolved": 4,
        "skipped": 1,
        "warnings": 1,
        "outcomes": {"new": 2, "email": 1, "external_id": 1},
        "problems": [
            "line 3: skipped: not valid JSON: Expecting value at column 1",
            "line 4: ignored phone: '12' is not a valid phone number",
        ],
    }


def test_the_report_names_every_problem_while_the_terminal_shows_the_first_hundred_and_points_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    bad_lines = 150
    code = run(
        tmp_path,
        *(f"not json {n}" for n in range(bad_lines)),
        {"record_id": "r1", "email": "elise@example.com", "vip\nyes": True},
        options=("--report", str(report)),
    )
    assert code == 0
    written = json.loads(report.read_text(encoding="utf-8"))
    assert (written["skipped"], written["warnings"]) == (bad_lines, 1)
    assert written["problems"] == [
        *(f"line {n}: skipped: not valid JSON: Expecting value at column 1" for n in range(1, bad_lines + 1)),
        f"line {bad_lines + 1}: ignored unknown fields: vip\nyes",
    ]
    stderr = capsys.readouterr().err
    assert len(problem_lines(stderr)) == 100
    assert f"… and 51 more problems, see {report}" in stderr.splitlines()


def test_without_report_the_terminal_says_how_to_see_the_problems_it_leaves_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, *("not json" for _ in range(101)), {"record_id": "r1", "email": "elise@example.com"})
    assert "… and 1 more problem, --report FILE writes them all" in capsys.readouterr().err.splitlines()


def test_a_run_without_problems_writes_a_report_with_none(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run(tmp_path, {"record_id": "r1", "email": "elise@example.com"}, options=("--report", str(report)))
    assert json.loads(report.read_text(encoding="utf-8")) == {
        "lines": 1,
        "resolved": 1,
        "skipped": 0,
        "warnings": 0,
        "outcomes": {"new": 1},
        "problems": [],
    }


def test_the_command_takes_a_memory_budget_and_refuses_one_too_small(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {"record_id": "r1", "email": "elise@example.com", "first_name": "Élise", "last_name": "Gagnon"}
    assert run(tmp_path, line, options=("--memory-mb", "16")) == 0
    assert list(assignments(tmp_path)) == ["r1"]

    assert run(tmp_path, line, options=("--memory-mb", "8")) == 2
    assert "--memory-mb: at least 16" in capsys.readouterr().err


def test_a_failure_while_reading_the_lines_exits_1_with_its_cause_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(line_number: int, line: str, **options: object) -> None:
        raise OSError(f"the disk went away at line {line_number}")

    # The lines are read by a forked child, which runs this replacement.
    monkeypatch.setattr("services.identity.prepared_input.prepare_line", unreadable)
    code = run(tmp_path, {"record_id": "r1", "email": "elise@example.com"})
    assert code == 1
    stderr = capsys.readouterr().err
    assert "error: preparing the lines failed" in stderr
    assert "OSError: the disk went away at line 1" in stderr
    assert not (tmp_path / "persons.csv").exists()


def test_a_run_that_ends_while_the_process_reading_the_lines_is_still_exiting_shows_no_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare = prepared_input._prepare

    class EndHeldBack:
        def __init__(self, sending: Any) -> None:
            self.sending = sending

        def send(self, message: tuple[str, Any]) -> None:
            if message[0] != "end":
                self.sending.send(message)

        def close(self) -> None:
            pass

    def slow_to_exit(preparation: Any, sending: Any) -> None:
        prepare(preparation, cast(Any, EndHeldBack(sending)))
        # The work done, the child takes a while to exit, as it does freeing a very long line (a JSON array of a
        # whole history written on one line): the run ends meanwhile.
        sending.send(("end", None))
        sending.close()
        time.sleep(10)

    # The lines are read by a forked child, which runs this replacement.
    monkeypatch.setattr("services.identity.prepared_input._prepare", slow_to_exit)
    code = run(tmp_path, '[{"record_id": "r1", "email": "elise@example.com"}, {"record_id": "r2"}]')

    assert code == 1
    stderr = capfd.readouterr().err
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("error: none of the 1 lines held a record to resolve")


def test_ctrl_c_stops_a_long_run_at_once_and_writes_nothing(tmp_path: Path) -> None:
    # Long enough to be under way when interrupted: about 20 s of work.
    source = jsonl(
        tmp_path / "history.jsonl", *({"record_id": f"r{n}", "email": f"p{n}@x.example"} for n in range(100_000))
    )
    output = tmp_path / "persons.csv"
    command = [
        sys.executable,
        "-m",
        "shared.cli",
        "identity",
        "resolve",
        "--input",
        str(source),
        "--output",
        str(output),
    ]
    # Started with Ctrl-C's usual effect, even where this test runs with it ignored.
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=True,
    )
    # Interrupted once it reports progress, so under way whatever the machine's load: an interruption during
    # start-up, before its first line, would stop it by the signal's default effect instead.
    assert process.stderr is not None
    while not process.stderr.readline().startswith("["):
        assert process.poll() is None
    assert process.poll() is None
    # Ctrl-C in a terminal reaches every process of the group.
    os.killpg(process.pid, signal.SIGINT)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "error: interrupted; nothing written"
    assert not output.exists()
    assert subprocess.run(["pgrep", "-f", str(source)], capture_output=True).returncode == 1


def test_a_run_stopped_by_sigterm_writes_nothing_and_leaves_no_scratch_files_behind(tmp_path: Path) -> None:
    # Long enough to be under way when stopped, with the smallest budget: its scratch file in use.
    source = jsonl(
        tmp_path / "history.jsonl", *({"record_id": f"r{n}", "email": f"p{n}@x.example"} for n in range(100_000))
    )
    output = tmp_path / "persons.csv"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    command = [sys.executable, "-m", "shared.cli", "identity", "resolve", "--input", str(source)]
    process = subprocess.Popen(
        [*command, "--output", str(output), "--memory-mb", "16"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
        start_new_session=True,
    )
    assert process.stderr is not None
    while not process.stderr.readline().startswith("["):
        assert process.poll() is None
    assert process.poll() is None
    # As `timeout` or a service manager stops it.
    os.killpg(process.pid, signal.SIGTERM)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert stderr.strip().splitlines()[-1] == "error: interrupted; nothing written"
    assert not output.exists()
    assert list(scratch.iterdir()) == []


HISTORY = (
    {"record_id": "r1", "email": "elise@example.com", "first_name": "Élise", "last_name": "Gagnon"},
    {"record_id": "r2", "email": "jean@example.com", "first_name": "Jean", "last_name": "Roy"},
)


@pytest.mark.parametrize("option", ["--output", "--report"])
def test_an_output_or_report_in_a_missing_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    nowhere = str(tmp_path / "nowhere" / "file")
    options = ("--report", nowhere) if option == "--report" else ()
    source = jsonl(tmp_path / "history.jsonl", *HISTORY)
    output = nowhere if option == "--output" else str(tmp_path / "persons.csv")

    code = main(["identity", "resolve", "--input", str(source), "--output", output, *options])

    assert code == 2
    assert capsys.readouterr().err.startswith(f"error: {option}: ")
    assert not (tmp_path / "persons.csv").exists()


@pytest.mark.parametrize("option", ["--output", "--report"])
def test_an_output_or_report_that_is_a_link_leading_back_to_itself_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    options = ("--report", str(loop)) if option == "--report" else ()
    source = jsonl(tmp_path / "history.jsonl", *HISTORY)
    output = str(loop) if option == "--output" else str(tmp_path / "persons.csv")

    code = main(["identity", "resolve", "--input", str(source), "--output", output, *options])

    assert code == 2
    assert capsys.readouterr().err == f"error: {option}: {loop} is a link that leads back to itself\n"
    assert not (tmp_path / "persons.csv").exists()


def test_an_output_that_is_a_pipe_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--output /dev/stdout | …`: the output is written beside its place and renamed into it, which a pipe has not.
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    source = jsonl(tmp_path / "history.jsonl", *HISTORY)

    code = main(["identity", "resolve", "--input", str(source), "--output", str(pipe)])

    assert code == 2
    assert (
        capsys.readouterr().err == f"error: --output: {pipe} is not a regular file (a pipe or a device): name a file\n"
    )


@pytest.mark.parametrize("option", ["--output", "--report"])
def test_an_output_or_report_in_a_folder_the_user_may_not_write_in_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    may = os.access
    # As a folder without write permission is to anyone but root, whom tests may run as.
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != locked and may(path, mode, **kw))
    options = ("--report", str(locked / "report.json")) if option == "--report" else ()
    source = jsonl(tmp_path / "history.jsonl", *HISTORY)
    output = str(locked / "persons.csv") if option == "--output" else str(tmp_path / "persons.csv")

    code = main(["identity", "resolve", "--input", str(source), "--output", output, *options])

    assert code == 2
    assert capsys.readouterr().err == f"error: {option}: {locked} is not a directory you may write in\n"
    assert not (tmp_path / "persons.csv").exists()


@pytest.mark.parametrize(
    ("output", "report", "said"),
    [
        ("history.jsonl", None, "error: --output: {path}/history.jsonl is also --input; name another file"),
        ("persons.csv", "history.jsonl", "error: --report: {path}/history.jsonl is also --input; name another file"),
        ("persons.csv", "persons.csv", "error: --report: {path}/persons.csv is also --output; name another file"),
    ],
    ids=["output-is-input", "report-is-input", "report-is-output"],
)
def test_an_output_naming_the_input_or_the_other_output_is_refused_and_the_history_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, report: str | None, said: str
) -> None:
    source = jsonl(tmp_path / "history.jsonl", *HISTORY)
    before = source.read_bytes()
    options = ("--report", str(tmp_path / report)) if report else ()

    code = main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / output), *options])

    assert code == 2
    assert capsys.readouterr().err.strip() == said.format(path=tmp_path)
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("command", "options", "said"),
    [
        ("resolve", ("--model", "m.yaml", "--output", "m.yaml"), "--output: {path}/m.yaml is also --model"),
        ("resolve", ("--policy", "p.yaml", "--output", "p.yaml"), "--output: {path}/p.yaml is also --policy"),
        (
            "resolve",
            ("--policy", "p.yaml", "--output", "persons.csv", "--report", "p.yaml"),
            "--report: {path}/p.yaml is also --policy",
        ),
        ("estimate", ("--policy", "p.yaml", "--output", "p.yaml"), "--output: {path}/p.yaml is also --policy"),
    ],
    ids=[
        "resolve-output-is-model",
        "resolve-output-is-policy",
        "resolve-report-is-policy",
        "estimate-output-is-policy",
    ],
)
def test_an_output_naming_a_file_the_command_reads_is_refused_and_that_file_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, options: tuple[str, ...], said: str
) -> None:
    source = jsonl(tmp_path / "history.jsonl", *HISTORY)
    for name in ("m.yaml", "p.yaml"):
        (tmp_path / name).write_text("# the organisation's own settings\n", encoding="utf-8")
    paths = [str(tmp_path / option) if option.endswith((".yaml", ".csv")) else option for option in options]

    code = main(["identity", command, "--input", str(source), *paths])

    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: {said.format(path=tmp_path)}; name another file"
    for name in ("m.yaml", "p.yaml"):
        assert (tmp_path / name).read_text(encoding="utf-8") == "# the organisation's own settings\n"


@pytest.mark.parametrize(
    ("failure", "code", "said"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), 1, "; nothing written"),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
    ids=["disk-full", "ctrl-c"],
)
def test_a_report_that_cannot_be_written_leaves_the_previous_output_and_report_as_they_were(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    code: int,
    said: str,
) -> None:
    output, report = tmp_path / "persons.csv", tmp_path / "report.json"
    output.write_text("record_id,person_id\nlast-year,per_kept\n", encoding="utf-8")
    report.write_text('{"lines": 1}\n', encoding="utf-8")

    def failing(*_arguments: Any) -> None:
        raise failure

    monkeypatch.setattr("services.identity.entrypoints.cli._write_report", failing)

    assert run(tmp_path, *HISTORY, options=("--report", str(report))) == code

    stderr = capsys.readouterr().err
    assert said in stderr.splitlines()[-1]
    assert ".partial" not in stderr
    # The output and the report go in together: a new output beside last year's report would contradict it.
    assert output.read_text(encoding="utf-8") == "record_id,person_id\nlast-year,per_kept\n"
    assert report.read_text(encoding="utf-8") == '{"lines": 1}\n'
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.jsonl", "persons.csv", "report.json"]


def test_an_interruption_while_the_output_is_written_leaves_the_previous_one_as_it_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "persons.csv"
    output.write_text("record_id,person_id\nlast-year,per_kept\n", encoding="utf-8")
    looked_up = 0

    async def interrupted_at_the_second(*arguments: Any) -> Any:
        nonlocal looked_up
        looked_up += 1
        if looked_up == 2:
            raise KeyboardInterrupt
        return await active_person(*arguments)

    monkeypatch.setattr("services.identity.batch.active_person", interrupted_at_the_second)

    code = run(tmp_path, *HISTORY)

    assert code == 130
    assert "nothing written" in capsys.readouterr().err
    assert output.read_text(encoding="utf-8") == "record_id,person_id\nlast-year,per_kept\n"
    # No partial file left beside it.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.jsonl", "persons.csv"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_a_utf16_file_as_powershell_writes_it_is_refused_saying_so_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes("".join(json.dumps(line) + "\r\n" for line in HISTORY).encode(encoding))

    code = main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")])

    # Refused as an input, like a JSON array over lines: the file is wrong, not how the command was called.
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {source} is UTF-16 (as Windows PowerShell's > writes); the input is read as UTF-8: save it as UTF-8, "
        "for instance with Out-File -Encoding utf8; nothing read"
    )
    assert not (tmp_path / "persons.csv").exists()


@pytest.mark.parametrize("command", ["resolve", "estimate"])
@pytest.mark.parametrize("encoding", ["utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("byte_order_mark", ["\ufeff", ""], ids=["with a byte-order mark", "without"])
def test_a_utf32_file_is_refused_as_utf32_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, encoding: str, byte_order_mark: str
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes((byte_order_mark + "".join(json.dumps(line) + "\r\n" for line in HISTORY)).encode(encoding))
    output = tmp_path / "written"

    code = main(["identity", command, "--input", str(source), "--output", str(output), "--language", "en"])

    assert code == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {source} is UTF-32; the input is read as UTF-8: save it as UTF-8, for instance with Out-File "
        "-Encoding utf8; nothing read"
    )
    assert not output.exists()


def test_a_first_line_with_a_byte_order_mark_before_windows_1252_text_loses_no_record(tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"record_id": "r1", "first_name": "H\xe9l\xe8ne", "last_name": "Roy"}\r\n')

    code = main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")])

    assert code == 0
    assert list(assignments(tmp_path)) == ["r1"]


def progress_lines(stderr: str) -> list[tuple[str, int, str]]:
    """Each progress line drawn, as (its percentage, its count of records, what it says after the rate)."""
    drawn = []
    for line in stderr.splitlines():
        shown = re.fullmatch(r"\[[# ]{30}\]\s+(\S+)%\s+([\d,]+) records\s+\S+ records/s\s*(.*)", line)
        if shown is not None:
            drawn.append((shown[1], int(shown[2].replace(",", "")), shown[3]))
    return drawn


def test_the_progress_is_the_share_of_the_file_resolved_not_how_far_reading_it_has_got(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = [{"record_id": f"r{n:02}", "email": f"person{n:02}@example.com"} for n in range(40)]

    assert run(tmp_path, *history) == 0

    # In a log, the first record resolved draws a line at once: one line of the forty is done, not the whole file.
    first_line = len(json.dumps(history[0])) + 1
    drawn = progress_lines(capsys.readouterr().err)
    assert drawn[0] == (f"{first_line / (tmp_path / 'history.jsonl').stat().st_size:.1%}"[:-1], 1, "0 skipped")
    assert drawn[1] == ("100.0", 40, "0 skipped")


def test_a_run_of_lines_skipped_shows_its_progress_as_it_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = ["not a record"] * 39

    assert run(tmp_path, *skipped, {"record_id": "r40", "email": "person40@example.com"}) == 0

    # The first line, skipped, draws a line at once, as a first record resolved does.
    drawn = [line for line in progress_lines(capsys.readouterr().err) if line[2].endswith("skipped")]
    assert drawn[0][1:] == (0, "1 skipped")
    assert drawn[-1] == ("100.0", 1, "39 skipped")


def test_writing_the_output_with_each_person_followed_through_later_merges_shows_its_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = [{"record_id": f"r{n:02}", "email": f"person{n:02}@example.com"} for n in range(40)]

    assert run(tmp_path, *history) == 0

    writing = [line for line in progress_lines(capsys.readouterr().err) if line[2] == "written to persons.csv"]
    assert writing == [("2.5", 1, "written to persons.csv"), ("100.0", 40, "written to persons.csv")]


def test_a_file_whose_lines_end_with_a_carriage_return_alone_as_old_mac_programs_write_is_read_a_line_a_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(
        "\r".join(
            [
                json.dumps({"record_id": "r1", "email": "elise@example.com", **ELISE}),
                json.dumps({"record_id": "r2", "email": "Elise@Example.com"}),
                "{not json",
                "",
                json.dumps({"record_id": "r3", "phone": "418 555 0123"}),
            ]
        ).encode()
        + b"\r"
    )

    code = main(["identity", "resolve", "--input", str(source), "--output", str(tmp_path / "persons.csv")])

    assert code == 0
    found = assignments(tmp_path)
    assert list(found) == ["r1", "r2", "r3"]
    assert found["r1"] == found["r2"] != found["r3"]
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == [
        "line 3: skipped: not valid JSON: Expecting property name enclosed in double quotes at column 2"
    ]
    assert summary(stderr)["lines"] == 5


def test_blank_cells_a_pandas_export_writes_as_nan_are_blank_fields_without_a_warning_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `json.dumps` of a pandas row with empty cells; Python reads NaN back as a float.
    code = run(
        tmp_path,
        json.dumps({"record_id": "r1", "email": "elise@example.com", "phone": math.nan, "city": math.nan, **ELISE}),
        json.dumps({"record_id": "r2", "email": "elise@example.com", "phone": math.nan, "city": "Québec"}),
        json.dumps({"record_id": "r3", "email": math.nan, "phone": "418 555 0123", "city": math.nan}),
        options=("--strict",),
    )

    assert code == 0
    found = assignments(tmp_path)
    assert found["r1"] == found["r2"] != found["r3"]
    stderr = capsys.readouterr().err
    assert problem_lines(stderr) == []
    assert summary(stderr)["warnings"] == 0
