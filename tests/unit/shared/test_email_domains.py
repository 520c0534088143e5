"""An email domain written in Unicode compares as its ASCII form, and every ASCII domain as itself."""

from hypothesis import given
from hypothesis import strategies as st

from shared.email_domains import ascii_domain


def test_a_unicode_domain_takes_its_ascii_form_in_lower_case() -> None:
    assert ascii_domain("exämple.ca") == ascii_domain("EXÄMPLE.ca") == "xn--exmple-cua.ca"
    assert ascii_domain("théâtre.québec") == "xn--thtre-4qa2c.xn--qubec-csa"


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_an_ascii_domain_is_returned_exactly_as_given(domain: str) -> None:
    assert ascii_domain(domain) == domain


@given(st.text())
def test_any_text_gives_a_domain_without_raising_and_an_ascii_one_is_not_converted_again(domain: str) -> None:
    converted = ascii_domain(domain)

    assert ascii_domain(converted) == converted
