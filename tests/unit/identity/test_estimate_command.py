"""`parterre identity estimate`: an organisation's matching model, estimated from its history, as a model file."""

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.identity.synthetic import generate_audience
from services.identity.domain.identifiers import BlockedValues, load_identifier_policy
from services.identity.domain.match_settings import load_match_settings
from services.identity.domain.matching import DEFAULT_MODEL, Comparison, Level
from services.identity.domain.records import NormalisedRecord
from services.identity.estimation import (
    MAX_BLOCK_MEMBERS,
    MIN_RECORDS,
    LineTally,
    NotEnoughDataError,
    estimate_from_records,
    records_of_lines,
)
from services.identity.settings import BUNDLED_MATCH_MODEL, BUNDLED_POLICY
from shared.cli import main

# Few random pairs keep each run well under a second; the command's default is 200,000.
QUICK = ("--random-pairs", "3000")
TODAY = date(2026, 9, 1)
POLICY = load_identifier_policy(BUNDLED_POLICY.read_text(encoding="utf-8"))
READING: dict[str, Any] = {"today": TODAY, "default_region": "CA", "policy": POLICY, "organisation_id": "theatre-demo"}


@pytest.fixture(autouse=True)
def bundled_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command starts from the bundled model unless the environment names another."""
    monkeypatch.delenv("PARTERRE_IDENTITY_MATCH_MODEL_FILE", raising=False)


@pytest.fixture(scope="module")
def audience_lines() -> list[str]:
    """About 800 records of 300 people, households and typos included."""
    return [json.dumps(record.as_input(), ensure_ascii=False) for record in generate_audience(300, seed=11)]


def jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def estimate(tmp_path: Path, lines: list[str], *options: str, output: str = "model.yaml") -> int:
    source = jsonl(tmp_path / "history.jsonl", lines)
    return main(["identity", "estimate", "--input", str(source), "--output", str(tmp_path / output), *QUICK, *options])


def summary(stderr: str) -> dict[str, Any]:
    last: dict[str, Any] = json.loads(stderr.strip().splitlines()[-1])
    return last


def test_the_written_file_loads_as_a_model_file_with_the_configured_bands(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert estimate(tmp_path, audience_lines) == 0
    matching = load_match_settings((tmp_path / "model.yaml").read_text(encoding="utf-8"))
    configured = load_match_settings(BUNDLED_MATCH_MODEL.read_text(encoding="utf-8"))
    assert matching.bands == configured.bands
    assert matching.model.prior == configured.model.prior
    assert matching.model != configured.model
    stderr = capsys.readouterr().err
    assert f"wrote {tmp_path / 'model.yaml'}" in stderr.splitlines()
    figures = summary(stderr)
    assert figures["records"] == figures["lines"] - figures["skipped"]
    assert figures["blocked_pairs"] > 0
    assert figures["converged"] is True


def test_an_input_named_with_a_line_break_is_named_escaped_in_the_file_written(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    source = jsonl(tmp_path / "export\nmars.jsonl", audience_lines)

    code = main(["identity", "estimate", "--input", str(source), "--output", str(tmp_path / "model.yaml"), *QUICK])

    assert code == 0, capsys.readouterr().err
    written = (tmp_path / "model.yaml").read_text(encoding="utf-8")
    assert written.startswith("# Estimated by `parterre identity estimate` from export\\nmars.jsonl (")
    load_match_settings(written)


def test_a_run_of_lines_skipped_shows_its_progress_as_it_goes(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert estimate(tmp_path, ["not a record"] * 39 + audience_lines) == 0

    # The first line, skipped, draws a line at once.
    drawn = re.findall(r"\]\s+\S+%\s+([\d,]+) records\s+\S+ records/s\s*(.*)", capsys.readouterr().err)
    assert drawn[0] == ("0", "1 skipped")


def test_the_same_seed_writes_the_same_file_and_another_seed_another(tmp_path: Path, audience_lines: list[str]) -> None:
    estimate(tmp_path, audience_lines, "--seed", "3", output="first.yaml")
    estimate(tmp_path, audience_lines, "--seed", "3", output="again.yaml")
    estimate(tmp_path, audience_lines, "--seed", "4", output="other.yaml")
    first = (tmp_path / "first.yaml").read_text(encoding="utf-8")
    assert (tmp_path / "again.yaml").read_text(encoding="utf-8") == first
    assert (tmp_path / "other.yaml").read_text(encoding="utf-8") != first


def test_an_exact_email_is_far_likelier_between_one_persons_records_than_between_two_peoples(
    tmp_path: Path, audience_lines: list[str]
) -> None:
    estimate(tmp_path, audience_lines)
    model = load_match_settings((tmp_path / "model.yaml").read_text(encoding="utf-8")).model
    exact_email = model.comparisons[Comparison.EMAIL][Level.EXACT]
    assert exact_email.m > 100 * exact_email.u
    assert (
        model.level_weight(Comparison.BIRTH_DATE, Level.EXACT)
        > 0
        > model.level_weight(Comparison.BIRTH_DATE, Level.DIFFERENT)
    )


def test_malformed_lines_are_counted_and_reported_and_the_rest_is_estimated(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    clean = LineTally()
    normalised_records = sum(1 for _ in records_of_lines(audience_lines, clean, **READING))
    broken = ['{"record_id": "x1", "email": ', '["not", "an", "object"]', '{"email": "no-id@example.com"}']
    lines = [*broken, *audience_lines, '{"record_id": "x2", "first_name": "Élise"}']
    assert estimate(tmp_path, lines) == 0
    assert (tmp_path / "model.yaml").exists()
    stderr = capsys.readouterr().err
    problems = [line for line in stderr.splitlines() if line.startswith("line ")]
    assert problems[:3] == [
        "line 1: skipped: not valid JSON: Expecting value at column 30",
        "line 2: skipped: a line must be a JSON object, not an array",
        "line 3: skipped: `record_id` is required",
    ]
    assert problems[-1] == (
        f"line {len(lines)}: skipped: names nobody: it needs an external_id, an email, a phone, or first and last names"
    )
    figures = summary(stderr)
    assert (figures["lines"], figures["skipped"], figures["records"]) == (
        len(lines),
        clean.skipped + 4,
        normalised_records,
    )


def test_a_line_that_is_not_utf8_is_read_as_windows_1252_with_a_warning_as_resolve_reads_it() -> None:
    tally = LineTally()
    lines = [
        line.encode("cp1252")
        for line in ('{"record_id": "r1", "first_name": "Hélène", "last_name": "Bélanger"}', '{"record_id": "r2"}')
    ]
    records = list(records_of_lines(lines, tally, **READING))
    assert [(record.first_name, record.last_name) for record in records] == [("helene", "belanger")]
    assert (tally.warnings, tally.skipped) == (1, 1)
    assert tally.problems[0] == "line 1: not valid UTF-8: read as Windows-1252"


def test_a_field_that_does_not_parse_or_is_unknown_is_a_warning_as_resolve_says() -> None:
    tally = LineTally()
    lines = [
        '{"record_id": "r1", "email": "elise@example.com", "birth_date": "2023-02-30", "phone": "call me"}',
        '{"record_id": "r2", "email": "jean@example.com", "courriel": "jean@example.com"}',
    ]
    records = list(records_of_lines(lines, tally, **READING))
    assert len(records) == 2
    assert (tally.warnings, tally.skipped) == (3, 0)
    assert tally.problems == [
        "line 1: ignored phone: 'call me' is not a valid phone number",
        "line 1: ignored birth_date: '2023-02-30' is not a real calendar date",
        "line 2: ignored unknown fields: courriel",
    ]


def test_a_blocked_email_is_no_evidence_to_estimate_on_as_resolve_compares_none() -> None:
    # Walk-up buyers the box office entered under its own address: strangers sharing an email.
    lines = [
        json.dumps({"record_id": f"r{n}", "email": "billetterie@theatre-demo.ca", "first_name": name, "last_name": "X"})
        for n, name in enumerate(["Élise", "Jean"])
    ]
    own_address = json.dumps(
        {"record_id": "r3", "email": "guichet@theatre-demo.ca", "first_name": "Anne", "last_name": "Roy"}
    )
    policy = POLICY.model_copy(
        update={"organisations": {"theatre-demo": BlockedValues(emails=("guichet@theatre-demo.ca",))}}
    )

    records = list(records_of_lines(lines, LineTally(), **READING))
    own = list(records_of_lines([own_address], LineTally(), **{**READING, "policy": policy}))
    elsewhere = list(
        records_of_lines([own_address], LineTally(), **{**READING, "policy": policy, "organisation_id": "festival"})
    )

    assert [(record.first_name, record.email) for record in records] == [("elise", None), ("jean", None)]
    assert [record.email for record in own] == [None]
    assert [record.email for record in elsewhere] == ["guichet@theatre-demo.ca"]


def test_a_blocked_value_is_named_as_resolve_names_it_in_a_warning_or_in_the_reason_a_line_is_skipped() -> None:
    tally = LineTally()
    lines = [
        '{"record_id": "r1", "email": "info@theatre-demo.ca", "first_name": "Anne", "last_name": "Roy"}',
        '{"record_id": "r2", "phone": "514 555 1234"}',
    ]
    records = list(records_of_lines(lines, tally, **READING))
    assert [record.email for record in records] == [None]
    assert (tally.warnings, tally.skipped) == (1, 1)
    assert tally.problems == [
        "line 1: ignored email 'info@theatre-demo.ca': a shared or placeholder value the identifier policy blocks "
        "links nobody",
        "line 2: skipped: names nobody: phone '514 555 1234' is a shared or placeholder value the identifier policy "
        "blocks, which links nobody; it needs an external_id, an email, a phone, or first and last names",
    ]


def test_records_that_share_no_blocking_key_exit_1_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strangers = [
        json.dumps({"record_id": f"r{number}", "email": f"person{number}@example.com", "first_name": "Élise"})
        for number in range(MIN_RECORDS)
    ]
    assert estimate(tmp_path, strangers) == 1
    stderr = capsys.readouterr().err
    assert f"error: no two of the {MIN_RECORDS} records share a blocking key" in stderr
    assert stderr.strip().endswith("there are no candidate pairs to estimate m on; nothing written")
    assert not (tmp_path / "model.yaml").exists()


def test_a_json_array_written_over_lines_exits_1_before_any_work_as_resolve_does(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    as_an_array = ["[", *(f"{line}," for line in audience_lines[:-1]), audience_lines[-1], "]"]

    assert estimate(tmp_path, as_an_array) == 1
    assert "holds a JSON array written over several lines, not JSON Lines" in capsys.readouterr().err
    assert not (tmp_path / "model.yaml").exists()


def test_em_that_does_not_converge_exits_1_and_writes_nothing(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert estimate(tmp_path, audience_lines, "--max-iterations", "2") == 1
    stderr = capsys.readouterr().err
    assert "error: EM did not converge in 2 iterations" in stderr
    assert summary(stderr)["converged"] is False
    assert not (tmp_path / "model.yaml").exists()


def test_ctrl_c_exits_130_saying_nothing_was_written_and_keeps_the_previous_model(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = tmp_path / "model.yaml"
    previous.write_text("# last season's\n", encoding="utf-8")

    def stopped_by_ctrl_c(*arguments: Any, **options: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("services.identity.entrypoints.cli.estimate_from_records", stopped_by_ctrl_c)

    assert estimate(tmp_path, audience_lines) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: interrupted; nothing written"
    assert previous.read_text(encoding="utf-8") == "# last season's\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.jsonl", "model.yaml"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--random-pairs", "0"), "error: --random-pairs should be at least 1, not 0"),
        (("--max-iterations", "-1"), "error: --max-iterations should be at least 1, not -1"),
    ],
)
def test_a_bad_count_exits_2_before_reading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: tuple[str, ...], message: str
) -> None:
    assert estimate(tmp_path, ['{"record_id": "r1"}'], *options) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "model.yaml").exists()


def test_a_missing_input_or_output_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.jsonl"
    assert main(["identity", "estimate", "--input", str(missing), "--output", str(tmp_path / "m.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {missing} is not a file\n"
    source = jsonl(tmp_path / "history.jsonl", ['{"record_id": "r1"}'])
    nowhere = tmp_path / "no" / "model.yaml"
    assert main(["identity", "estimate", "--input", str(source), "--output", str(nowhere)]) == 2
    assert capsys.readouterr().err == f"error: --output: {nowhere.parent} is not a directory\n"


def test_an_output_that_is_a_directory_or_the_input_exits_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = jsonl(tmp_path / "history.jsonl", ['{"record_id": "r1"}'])
    (tmp_path / "models").mkdir()

    into_a_folder = ["--input", str(source), "--output", str(tmp_path / "models")]
    assert main(["identity", "estimate", *into_a_folder]) == 2
    assert capsys.readouterr().err == f"error: --output: {tmp_path / 'models'} is a directory\n"
    assert main(["identity", "estimate", "--input", str(source), "--output", str(source)]) == 2
    assert "is also --input" in capsys.readouterr().err
    assert source.read_text(encoding="utf-8") == '{"record_id": "r1"}\n'


def test_a_starting_model_file_with_a_mistake_exits_2_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = tmp_path / "start.yaml"
    start.write_text("bands:\n  link_at: 0.99\n  review_at: lots\n")
    assert estimate(tmp_path, ['{"record_id": "r1"}'], "--model", str(start)) == 2
    assert f"error: {start}, line 3: `bands.review_at` should be a number, not 'lots'" in capsys.readouterr().err


def normalised(lines: list[str]) -> list[NormalisedRecord]:
    return list(records_of_lines(lines, LineTally(), **READING))


def test_with_small_caps_a_random_share_of_the_blocks_is_kept_and_the_pairs_stay_under_the_cap(
    audience_lines: list[str],
) -> None:
    records = normalised(audience_lines)
    whole = estimate_from_records(records, start=DEFAULT_MODEL, sample_pairs=1000)
    sampled = estimate_from_records(
        records, start=DEFAULT_MODEL, sample_pairs=1000, max_blocked_pairs=whole.blocked_pairs // 3
    )
    assert whole.blocks_share == 1.0
    assert sampled.blocks_share < 1.0
    assert 0 < sampled.blocked_pairs <= whole.blocked_pairs // 3
    assert sampled.converged


def test_too_few_records_exit_1_and_keep_the_configured_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two lines of one patron: their one pair, drawn as "random" every time, would say first names agree between
    # strangers 99.998% of the time, and the model written would keep every duplicate apart.
    marie = {"first_name": "Marie", "last_name": "Tremblay", "postal_code": "H2X 1Y4", "birth_date": "1980-05-01"}
    lines = [json.dumps({"record_id": record_id, **marie}) for record_id in ("t1", "t2")]

    assert estimate(tmp_path, lines) == 1
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .startswith(f"error: 2 record(s) read: estimating needs at least {MIN_RECORDS}; ")
    )
    assert not (tmp_path / "model.yaml").exists()


def test_a_key_shared_by_more_records_than_a_block_holds_gives_no_pairs() -> None:
    family = normalised(
        [
            json.dumps({"record_id": f"r{number}", "first_name": f"Enfant{number}", "email": "famille@example.com"})
            for number in range(MAX_BLOCK_MEMBERS + 1)
        ]
        + [
            json.dumps({"record_id": f"s{number}", "email": f"stranger{number}@example.com"})
            for number in range(MIN_RECORDS)
        ]
    )
    with pytest.raises(NotEnoughDataError, match=f"no two of the {MAX_BLOCK_MEMBERS + 1 + MIN_RECORDS} records share"):
        estimate_from_records(family, start=DEFAULT_MODEL, sample_pairs=10)


def test_the_report_names_every_problem_where_the_terminal_shows_the_first_hundred(
    tmp_path: Path, audience_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = [f'{{"record_id": "x{number}"}}' for number in range(150)]

    assert estimate(tmp_path, [*broken, *audience_lines], "--report", str(tmp_path / "report.json")) == 0

    stderr = capsys.readouterr().err
    report, figures = json.loads((tmp_path / "report.json").read_text(encoding="utf-8")), summary(stderr)
    every = figures["skipped"] + figures["warnings"]
    assert every >= 150
    assert len([line for line in stderr.splitlines() if line.startswith("line ")]) == 100
    assert f"… and {every - 100} more problems, see {tmp_path / 'report.json'}" in stderr.splitlines()
    assert len(report["problems"]) == every
    assert report["problems"][149] == (
        "line 150: skipped: names nobody: it needs an external_id, an email, a phone, or first and last names"
    )
    assert report["records"] == summary(stderr)["records"]
    assert (tmp_path / "model.yaml").exists()


def test_without_a_report_the_terminal_says_how_to_have_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = [f'{{"record_id": "x{number}"}}' for number in range(101)]

    assert estimate(tmp_path, broken, "--language", "fr") == 1

    assert "… et 1 autre problème ; --report FICHIER l'écrit" in capsys.readouterr().err.splitlines()


def test_an_estimate_that_writes_no_model_still_writes_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unnamed = ['{"record_id": "x1"}', '{"record_id": "x2", "email": "not an address"}']

    assert estimate(tmp_path, unnamed, "--report", str(tmp_path / "report.json")) == 1

    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert (report["lines"], report["skipped"], report["warnings"], len(report["problems"])) == (2, 2, 1, 3)
    assert not (tmp_path / "model.yaml").exists()


def test_a_report_that_would_replace_the_starting_model_or_the_output_exits_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = jsonl(tmp_path / "history.jsonl", ['{"record_id": "r1"}'])
    starting = tmp_path / "start.yaml"
    starting.write_text(BUNDLED_MATCH_MODEL.read_text(encoding="utf-8"), encoding="utf-8")
    command = ["identity", "estimate", "--input", str(source), "--output", str(tmp_path / "model.yaml")]

    assert main([*command, "--model", str(starting), "--report", str(starting)]) == 2
    assert "--report" in capsys.readouterr().err
    assert main([*command, "--report", str(tmp_path / "model.yaml")]) == 2
    assert "--report" in capsys.readouterr().err
    assert starting.read_text(encoding="utf-8") == BUNDLED_MATCH_MODEL.read_text(encoding="utf-8")
