"""A Canadian postal code typed with the letter O for a zero: its digits' places hold no letter, so the O is one."""

from dataclasses import replace
from datetime import date

import pytest

from services.identity.domain.matching import Level, blocking_keys, compare
from services.identity.domain.normalise import normalise_postal_code, normalise_record
from services.identity.domain.records import PersonRecord


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("HOJ 2L1", "H0J 2L1"), ("h0j 2lo", "H0J 2L0"), ("hoj2l1", "H0J 2L1"), ("G1R 4PO", "G1R 4P0")],
)
def test_a_letter_o_where_a_canadian_postal_code_has_a_digit_is_read_as_zero(raw: str, expected: str) -> None:
    assert normalise_postal_code(raw, "CA") == expected
    assert normalise_postal_code(raw, None) == expected


def test_a_code_of_another_country_keeps_its_letter_o() -> None:
    assert normalise_postal_code("HOJ 2L1", "US") == "HOJ 2L1"


def test_one_address_written_with_o_for_zero_in_its_postal_code_is_the_same_address() -> None:
    today = date(2025, 1, 1)
    written = {"first_name": "Marie-Ève", "last_name": "St-Pierre", "street": "12, rue Principale", "city": "Val-David"}
    typed_well = normalise_record(PersonRecord(**written, postal_code="J0T 2N0"), today=today)
    typed_with_o = normalise_record(PersonRecord(**written, postal_code="JOT 2NO"), today=today)

    assert compare(typed_well, typed_with_o).address is Level.SAME_ADDRESS


def test_a_record_stored_with_the_letter_o_before_zeros_were_read_still_matches_the_same_address() -> None:
    # The previous version kept `JOT 2NO` as written: persons stored then hold it in their records.
    today = date(2025, 1, 1)
    written = {"first_name": "Marie-Ève", "last_name": "St-Pierre", "street": "12, rue Principale", "city": "Val-David"}
    stored_before = replace(normalise_record(PersonRecord(**written), today=today), postal_code="JOT 2NO")
    typed_again = normalise_record(PersonRecord(**written, postal_code="JOT 2NO"), today=today)

    assert compare(stored_before, typed_again).address is Level.SAME_ADDRESS


def test_a_record_stored_with_the_letter_o_is_filed_under_the_keys_a_new_one_has_once_refiled() -> None:
    today = date(2025, 1, 1)
    written = {"first_name": "Marie-Ève", "last_name": "St-Pierre", "city": "Val-David"}
    stored_before = replace(normalise_record(PersonRecord(**written), today=today), postal_code="JOT 2NO")
    new = normalise_record(PersonRecord(**written, postal_code="JOT 2NO"), today=today)

    assert new.postal_code == "J0T 2N0"
    assert set(blocking_keys(stored_before)) == set(blocking_keys(new))
