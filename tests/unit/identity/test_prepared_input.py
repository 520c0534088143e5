"""A batch file prepared by a second process reaches the resolver exactly as prepared in one, in order; a failure
or an early end of that process is an error, never a shorter file."""

import json
import multiprocessing
import os
from datetime import date
from pathlib import Path

import pytest

from bench.identity.synthetic import generate_audience, write_audience
from services.identity.batch import prepare_lines
from services.identity.domain.batch_input import PreparedLine, prepare_line
from services.identity.handlers import IdentityRules
from services.identity.prepared_input import CHUNK_LINES, PreparationError, prepared_input
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings

TODAY = date(2026, 9, 1)


@pytest.fixture(scope="module")
def rules() -> IdentityRules:
    return load_rules(IdentitySettings())


def in_child(path: Path, rules: IdentityRules) -> tuple[list[PreparedLine], int]:
    with prepared_input(
        path, organisation_id="theatre", policy=rules.policy, default_region=rules.default_region, today=TODAY
    ) as lines:
        prepared = list(lines)
        return prepared, lines.bytes_taken


def in_this_process(path: Path, rules: IdentityRules) -> list[PreparedLine]:
    with path.open("rb") as raw:
        return list(prepare_lines(raw, organisation_id="theatre", rules=rules, today=TODAY))


def test_a_generated_history_is_prepared_in_the_child_exactly_as_in_this_process(
    tmp_path: Path, rules: IdentityRules
) -> None:
    # Several chunks' worth: typos, households, walk-up buyers, birth dates, phones, upstream ids.
    source = tmp_path / "history.jsonl"
    write_audience(generate_audience(400, 3), source, tmp_path / "truth.csv")
    prepared, bytes_read = in_child(source, rules)
    assert len(prepared) > 2 * CHUNK_LINES
    assert prepared == in_this_process(source, rules)
    assert bytes_read == source.stat().st_size
    assert any(line.record.birth_date is not None for line in prepared)
    assert {identifier.type for line in prepared for identifier in line.identifiers} >= {"email", "phone"}


def test_problems_blank_lines_warnings_and_odd_bytes_cross_over_unchanged(tmp_path: Path, rules: IdentityRules) -> None:
    source = tmp_path / "history.jsonl"
    source.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"record_id": "r1", "email": "A.B@Example.com", "phone": "12", "vip": True}).encode()
        + b"\n\n{not json\n"
        + json.dumps({"record_id": "r2", "first_name": "H\u00e9l\u00e8ne", "last_name": "Roy"}).encode()
        + b"\n"
        + b'{"record_id": "r3", "last_name": "Ga\xffgnon", "birth_date": "19840230", "source": "shop", '
        + b'"external_id": "C-1"}\r\n'
    )
    prepared, _bytes_read = in_child(source, rules)
    assert prepared == in_this_process(source, rules)
    first, blank, broken, second, third = prepared
    assert (first.record_id, first.unknown_fields, first.record.warnings != ()) == ("r1", ("vip",), True)
    assert blank == PreparedLine(2)
    assert broken.line_number == 3
    assert broken.problem is not None
    assert broken.problem.startswith("not valid JSON")
    assert second.record.first_name == "helene"
    assert third.record.last_name == "gaygnon"
    assert third.warnings == ("not valid UTF-8: read as Windows-1252",)
    assert first.warnings == second.warnings == ()
    assert [identifier.source for identifier in third.identifiers] == ["shop"]


def test_the_values_the_policy_blocks_cross_over_as_given_with_the_fields_that_gave_them(
    tmp_path: Path, rules: IdentityRules
) -> None:
    source = tmp_path / "history.jsonl"
    blocked = {"record_id": "r1", "email": "Info@Theatre.example", "phone": "514 555 1234", "last_name": "Roy"}
    source.write_text(
        json.dumps(blocked) + "\n" + json.dumps({"record_id": "r2", "email": "anne@example.com"}) + "\n",
        encoding="utf-8",
    )
    prepared, _bytes_read = in_child(source, rules)
    assert prepared == in_this_process(source, rules)
    first, second = prepared
    assert first.blocked_values == (("email", "Info@Theatre.example"), ("phone", "514 555 1234"))
    assert (first.record.email, first.record.phone, first.identifiers) == (None, None, ())
    assert second.blocked_values == ()


def test_a_failure_while_preparing_is_raised_with_the_childs_traceback(
    tmp_path: Path, rules: IdentityRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("".join(json.dumps({"record_id": f"r{n}", "email": f"p{n}@x.example"}) + "\n" for n in range(5)))

    def failing_on_line_3(line_number: int, line: str, **options: object) -> PreparedLine:
        if line_number == 3:
            raise ValueError("an unforeseen value on line 3")
        return prepare_line(line_number, line, **options)  # type: ignore[arg-type]

    # The child is forked from this process, so it runs the replacement.
    monkeypatch.setattr("services.identity.prepared_input.prepare_line", failing_on_line_3)
    with pytest.raises(PreparationError, match="an unforeseen value on line 3"):
        in_child(source, rules)


def test_a_child_that_dies_midway_is_an_error_not_a_shorter_file(
    tmp_path: Path, rules: IdentityRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "history.jsonl"
    lines = CHUNK_LINES * 2
    source.write_text("".join(json.dumps({"record_id": f"r{n}"}) + "\n" for n in range(lines)))

    def dying_in_the_second_chunk(line_number: int, line: str, **options: object) -> PreparedLine:
        if line_number == CHUNK_LINES + 10:
            os._exit(3)
        return prepare_line(line_number, line, **options)  # type: ignore[arg-type]

    monkeypatch.setattr("services.identity.prepared_input.prepare_line", dying_in_the_second_chunk)
    received: list[PreparedLine] = []
    with (
        pytest.raises(PreparationError, match="ended before the end of the file"),
        prepared_input(
            source, organisation_id="theatre", policy=rules.policy, default_region=rules.default_region, today=TODAY
        ) as prepared,
    ):
        received.extend(prepared)
    assert [line.line_number for line in received] == list(range(1, CHUNK_LINES + 1))


def test_leaving_before_the_end_stops_the_child(tmp_path: Path, rules: IdentityRules) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("".join(json.dumps({"record_id": f"r{n}"}) + "\n" for n in range(CHUNK_LINES * 40)))
    with prepared_input(
        source, organisation_id="theatre", policy=rules.policy, default_region=rules.default_region, today=TODAY
    ) as prepared:
        assert next(iter(prepared)).record_id == "r0"
        assert len(multiprocessing.active_children()) == 1
    assert multiprocessing.active_children() == []


def test_where_fork_is_not_offered_a_spawned_child_prepares_the_same_lines(
    tmp_path: Path, rules: IdentityRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "history.jsonl"
    write_audience(generate_audience(50, 5), source, tmp_path / "truth.csv")
    expected = in_this_process(source, rules)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn", "forkserver"])

    def refusing(line_number: int, line: str, **options: object) -> PreparedLine:
        raise AssertionError("a forked child would run this replacement; a spawned one imports the real function")

    monkeypatch.setattr("services.identity.prepared_input.prepare_line", refusing)
    prepared, bytes_read = in_child(source, rules)
    assert prepared == expected
    assert bytes_read == source.stat().st_size


def test_the_bytes_taken_are_those_of_the_lines_handed_out_so_far_not_those_the_child_has_read(
    tmp_path: Path, rules: IdentityRules
) -> None:
    source = tmp_path / "history.jsonl"
    lines = [json.dumps({"record_id": f"r{n}", "email": f"p{n}@x.example"}) + "\n" for n in range(CHUNK_LINES * 3)]
    source.write_text("".join(lines), encoding="utf-8")
    ends = [sum(len(line) for line in lines[: n + 1]) for n in range(len(lines))]
    with prepared_input(
        source, organisation_id="theatre", policy=rules.policy, default_region=rules.default_region, today=TODAY
    ) as prepared:
        taken = [prepared.bytes_taken for _line in prepared]
    assert taken == ends


def test_a_file_whose_lines_end_with_a_carriage_return_alone_is_prepared_a_line_a_record(
    tmp_path: Path, rules: IdentityRules
) -> None:
    source = tmp_path / "history.jsonl"
    crlf, cr = tmp_path / "crlf.jsonl", tmp_path / "cr.jsonl"
    write_audience(generate_audience(200, 7), source, tmp_path / "truth.csv")
    lines = source.read_bytes().splitlines()
    crlf.write_bytes(b"".join(line + b"\r\n" for line in lines))
    cr.write_bytes(b"".join(line + b"\r" for line in lines))
    prepared, bytes_taken = in_child(cr, rules)
    assert len(prepared) == len(lines) > CHUNK_LINES
    assert prepared == in_this_process(crlf, rules)
    assert bytes_taken == cr.stat().st_size
