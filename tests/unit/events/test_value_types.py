"""Shared value types: bilingual text, money, and what a source knows about a person."""

import re
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from shared.events import LocalizedText, Money, PersonRef, field_errors
from shared.events.common import check_email_shape

texts = st.text(min_size=1, max_size=40)
optional_texts = st.none() | texts
languages: st.SearchStrategy[Literal["fr", "en"]] = st.sampled_from(["fr", "en"])
cent_amounts = st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2)


def codes_and_fields(exc: ValidationError) -> list[tuple[str, str]]:
    return [(error.field, error.code) for error in field_errors(exc)]


@given(fr=optional_texts, en=optional_texts, lang=languages)
def test_best_text_is_the_asked_language_else_the_other(
    fr: str | None, en: str | None, lang: Literal["fr", "en"]
) -> None:
    assume(fr is not None or en is not None)
    text = LocalizedText(fr=fr, en=en)

    wanted, other = (fr, en) if lang == "fr" else (en, fr)

    assert text.best(lang) == (wanted if wanted is not None else other)


def test_text_in_neither_language_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        LocalizedText.model_validate({"de": "Die Schwägerinnen"})

    assert codes_and_fields(caught.value) == [("$", "text_missing")]


@given(amount=cent_amounts)
def test_any_amount_to_the_cent_is_accepted_and_survives_json_exactly(amount: Decimal) -> None:
    money = Money(amount=amount)

    again = Money.model_validate_json(money.model_dump_json())

    assert again.amount == amount
    assert again.currency == "CAD"


@given(amount=st.decimals(min_value=0, max_value=10**9, places=3).filter(lambda d: d != d.quantize(Decimal("0.01"))))
def test_an_amount_finer_than_a_cent_is_rejected(amount: Decimal) -> None:
    with pytest.raises(ValidationError) as caught:
        Money(amount=amount)

    assert codes_and_fields(caught.value) == [("amount", "decimal_max_places")]


@given(amount=st.decimals(min_value=-(10**9), max_value=Decimal("-0.01"), places=2))
def test_a_negative_amount_is_rejected(amount: Decimal) -> None:
    with pytest.raises(ValidationError) as caught:
        Money(amount=amount)

    assert codes_and_fields(caught.value) == [("amount", "greater_than_equal")]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "abc"])
def test_an_amount_that_is_not_a_finite_number_is_rejected(amount: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.model_validate({"amount": amount})

    assert [field for field, _ in codes_and_fields(caught.value)] == ["amount"]


@given(currency=st.from_regex(r"\A[A-Z]{3}\Z"))
def test_any_three_uppercase_letter_currency_is_accepted(currency: str) -> None:
    assert Money(amount=Decimal("1.00"), currency=currency).currency == currency


@given(currency=st.text(max_size=5).filter(lambda text: re.fullmatch(r"[A-Z]{3}", text) is None))
def test_a_currency_that_is_not_three_uppercase_letters_is_rejected(currency: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Money(amount=Decimal("1.00"), currency=currency)

    assert [field for field, _ in codes_and_fields(caught.value)] == ["currency"]


@pytest.mark.parametrize(
    "identifying",
    [
        {"external_id": "C-004521"},
        {"email": "elise.gagnon@example.com"},
        {"phone": "514-555-0199"},
        {"first_name": "Élise", "last_name": "Gagnon"},
    ],
)
def test_any_one_identifying_field_is_enough_to_name_a_person(identifying: dict[str, Any]) -> None:
    person = PersonRef.model_validate({"source": "billetterie-principale", **identifying})

    assert person.source == "billetterie-principale"


@pytest.mark.parametrize(
    "unidentifying",
    [
        {},
        {"first_name": "Élise"},
        {"last_name": "Gagnon", "city": "Montréal", "postal_code": "H2J 2L1", "birth_date": "1984-03-17"},
    ],
)
def test_a_person_without_an_identifying_field_is_rejected(unidentifying: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        PersonRef.model_validate({"source": "billetterie-principale", **unidentifying})

    assert codes_and_fields(caught.value) == [("$", "person_unidentifiable")]


@pytest.mark.parametrize(
    "email", ["Elise.GAGNON@Example.com", "élise+théâtre@exemple.québec", "o'brien@example.ie", "a@b"]
)
def test_unusual_but_plausible_emails_are_accepted_and_kept_as_given(email: str) -> None:
    assert PersonRef(source="shopify-boutique", email=email).email == email


@pytest.mark.parametrize(
    "email", ["elise.gagnon", "elise@@example.com", "elise@gagnon@example.com", "élise gagnon@example.com", "@x", ""]
)
def test_an_email_without_exactly_one_at_or_with_spaces_is_rejected(email: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PersonRef(source="shopify-boutique", email=email)

    assert ("email", "email_invalid") in codes_and_fields(caught.value)


def test_an_email_longer_than_254_characters_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        PersonRef(source="shopify-boutique", email="a" * 250 + "@example.com")

    assert [field for field, _ in codes_and_fields(caught.value)] == ["email"]


@pytest.mark.parametrize(
    ("postal_code", "country"), [("75004", "FR"), ("SW1A 1AA", "GB"), ("10115", "DE"), ("02134-1234", "US")]
)
def test_foreign_postal_codes_are_accepted(postal_code: str, country: str) -> None:
    person = PersonRef(
        source="billetterie-principale", email="visiteur@example.com", postal_code=postal_code, country=country
    )

    assert person.postal_code == postal_code


@pytest.mark.parametrize("country", ["Canada", "CAN", "ca"])
def test_a_country_that_is_not_an_iso_alpha2_code_is_rejected(country: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PersonRef(source="billetterie-principale", email="visiteur@example.com", country=country)

    assert [field for field, _ in codes_and_fields(caught.value)] == ["country"]


def test_the_upstream_key_prefers_the_source_scoped_external_id_then_the_lowercased_email() -> None:
    both = PersonRef(source="shopify-boutique", external_id="207119551", email="Elise@Example.com")
    email_only = PersonRef(source="shopify-boutique", email="Elise@Example.com")
    name_only = PersonRef(source="shopify-boutique", first_name="Élise", last_name="Gagnon")

    assert both.partition_key() == "shopify-boutique:207119551"
    assert email_only.partition_key() == "elise@example.com"
    assert name_only.partition_key() is None


def test_an_email_is_refused_for_exactly_the_characters_python_calls_whitespace() -> None:
    refused = {
        char for char in map(chr, range(0x110000)) if not _accepts_email(f"a{char}b@example.com") and char not in "@"
    }

    assert refused == {char for char in map(chr, range(0x110000)) if char.isspace()}


def _accepts_email(email: str) -> bool:
    try:
        check_email_shape(email)
    except PydanticCustomError:
        return False
    return True
