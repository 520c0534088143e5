"""A middle initial written after a first name (`Jean F.`) as evidence: it agrees with the name it starts, and two
different initials are two people (Jean-François and Jean-Pierre Tremblay, a father and a son)."""

import csv
import json
from pathlib import Path

import pytest

from services.identity.domain.matching import Level, first_name_level, first_names_clearly_differ
from shared.cli import main
from shared.names import fold_name


def level(a: str, b: str) -> Level:
    folded_a, folded_b = fold_name(a), fold_name(b)
    return first_name_level(folded_a, folded_b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jean F.", "Jean P."),
        ("Marie A.", "Marie B."),
        ("Jean F.", "Jean-Pierre"),
        ("Jean F.", "Jean Paul"),
        ("J.-F.", "J.-P."),
    ],
)
def test_two_different_middle_initials_are_two_people_not_a_typo(a: str, b: str) -> None:
    assert level(a, b) is Level.DIFFERENT
    assert level(b, a) is Level.DIFFERENT
    assert first_names_clearly_differ(fold_name(a), fold_name(b))


@pytest.mark.parametrize(
    ("a", "b"), [("Jean F.", "Jean-François"), ("J. Marc", "Jean-Marc"), ("Marie E.", "Marie-Ève")]
)
def test_a_middle_initial_agrees_with_the_name_it_starts(a: str, b: str) -> None:
    assert level(a, b) is Level.NICKNAME_OR_INITIAL
    assert level(b, a) is Level.NICKNAME_OR_INITIAL


def test_the_batch_keeps_jean_f_and_jean_p_tremblay_of_one_address_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PARTERRE_IDENTITY_POLICY_FILE", "PARTERRE_IDENTITY_MATCH_MODEL_FILE"):
        monkeypatch.delenv(name, raising=False)
    address = {"last_name": "Tremblay", "street": "4521 rue Saint-Denis", "city": "Montréal", "postal_code": "H2J 2L1"}
    source = tmp_path / "history.jsonl"
    source.write_text(
        json.dumps({"record_id": "father", "first_name": "Jean F.", **address})
        + "\n"
        + json.dumps({"record_id": "son", "first_name": "Jean P.", **address})
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "persons.csv"

    assert main(["identity", "resolve", "--input", str(source), "--output", str(output)]) == 0

    with output.open(encoding="utf-8", newline="") as written:
        persons = dict(list(csv.reader(written))[1:])
    assert persons["father"] != persons["son"]
