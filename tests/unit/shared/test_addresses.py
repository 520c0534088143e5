"""The one-line postal address profile writes and notify reads back its postal code from."""

import pytest

from shared.addresses import postal_code_key, postal_code_of_line, postal_line


@pytest.mark.parametrize(
    ("fields", "line", "key"),
    [
        (
            {"street": "4521, rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"},
            "4521, rue Saint-Denis, Montréal, QC, H2J 2L1",
            "H2J2L1",
        ),
        (
            {"street": "3 rue de Rivoli", "city": "Paris", "postal_code": "75004", "country": "FR"},
            "3 rue de Rivoli, Paris, 75004, FR",
            "75004",
        ),
        (
            {"city": "Londres", "postal_code": "sw1a-2aa", "country": "GB", "region": " "},
            "Londres, sw1a-2aa, GB",
            "SW1A2AA",
        ),
    ],
)
def test_a_line_gives_back_its_postal_code_as_compared(fields: dict[str, str], line: str, key: str) -> None:
    assert postal_line(fields) == line
    assert postal_code_of_line(line) == key == postal_code_key(fields["postal_code"])


def test_an_address_without_a_postal_code_makes_no_line() -> None:
    assert postal_line({"street": "4521, rue Saint-Denis", "city": "Montréal", "country": "CA"}) == ""
    assert postal_code_of_line("") == ""
