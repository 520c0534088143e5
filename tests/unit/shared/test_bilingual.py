"""The language a command speaks, and values and numbers as each language writes them."""

import copy
import pickle

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from shared.bilingual import (
    BilingualValueError,
    bilingual_problem,
    chosen_language,
    format_count,
    french_of_error,
    is_singular,
    language_of_environment,
    quoted,
)


@pytest.mark.parametrize(
    ("environment", "language"),
    [
        ({}, "en"),
        ({"LANG": "fr_CA.UTF-8"}, "fr"),
        ({"LANG": "fr"}, "fr"),
        ({"LANG": "FR_ca.utf8"}, "fr"),
        ({"LANG": "en_CA.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LC_MESSAGES": "fr_CA.UTF-8", "LANG": "en_CA.UTF-8"}, "fr"),
        ({"LC_ALL": "en_CA.UTF-8", "LC_MESSAGES": "fr_CA.UTF-8", "LANG": "fr_CA.UTF-8"}, "en"),
        ({"LC_ALL": "C", "LANG": "fr_CA.UTF-8"}, "en"),
        ({"LC_ALL": "", "LC_MESSAGES": "", "LANG": "fr_CA.UTF-8"}, "fr"),
    ],
)
def test_the_first_of_lc_all_lc_messages_and_lang_that_is_set_says_whether_to_speak_french(
    environment: dict[str, str], language: str
) -> None:
    assert language_of_environment(environment) == language


@pytest.mark.parametrize(
    ("environment", "language"),
    [
        ({"LANGUAGE": "fr_CA:en", "LANG": "en_CA.UTF-8"}, "fr"),
        ({"LANGUAGE": "en", "LANG": "fr_CA.UTF-8"}, "en"),
        # Languages it has no messages in are passed over, as gettext passes over those it has no translation for.
        ({"LANGUAGE": "de:es:fr", "LANG": "en_CA.UTF-8"}, "fr"),
        ({"LANGUAGE": "de", "LANG": "fr_CA.UTF-8"}, "fr"),
        ({"LANGUAGE": "frr:en_GB", "LANG": "fr_CA.UTF-8"}, "en"),
        ({"LANGUAGE": "", "LANG": "fr_CA.UTF-8"}, "fr"),
        ({"LANGUAGE": "::fr", "LANG": "en_CA.UTF-8"}, "fr"),
        # An entry `C` or `POSIX` ends the list: gettext stops there and speaks untranslated.
        ({"LANGUAGE": "C:fr", "LANG": "en_CA.UTF-8"}, "en"),
        ({"LANGUAGE": "de:POSIX", "LANG": "fr_CA.UTF-8"}, "en"),
        # With the C locale, GNU programs speak untranslated whatever LANGUAGE says; so does one with no locale set.
        ({"LANGUAGE": "fr", "LC_ALL": "C", "LANG": "fr_CA.UTF-8"}, "en"),
        ({"LANGUAGE": "fr", "LANG": "C.UTF-8"}, "en"),
        ({"LANGUAGE": "fr", "LANG": "POSIX"}, "en"),
        ({"LANGUAGE": "fr"}, "en"),
    ],
)
def test_language_lists_the_languages_preferred_before_the_locale_as_gnu_programs_read_it(
    environment: dict[str, str], language: str
) -> None:
    assert language_of_environment(environment) == language


def test_a_language_asked_for_wins_over_the_environment_and_another_is_refused() -> None:
    assert chosen_language("en", {"LANG": "fr_CA.UTF-8"}) == "en"
    assert chosen_language(" FR ", {}) == "fr"
    assert chosen_language(None, {"LANG": "fr_CA.UTF-8"}) == "fr"
    with pytest.raises(ValueError, match="de"):
        chosen_language("de", {})


def test_numbers_and_values_are_written_as_each_language_writes_them() -> None:
    assert (format_count(1_234_567, "en"), format_count(1_234_567, "fr")) == ("1,234,567", "1\u00a0234\u00a0567")
    assert (quoted("l'été", "en"), quoted("l'été", "fr")) == ('"l\'été"', "« l'été »")
    # A line break in a value would cut the message's line in two.
    assert quoted("a\nb\x00", "fr") == "« a\\nb\\x00 »"


def test_french_says_none_and_one_in_the_singular_and_english_one_alone() -> None:
    assert [is_singular(count, "fr") for count in (0, 1, 2)] == [True, True, False]
    assert [is_singular(count, "en") for count in (0, 1, 2)] == [False, True, False]


class Seats(BaseModel):
    rows: int

    @field_validator("rows")
    @classmethod
    def _some(cls, rows: int) -> int:
        if rows < 1:
            raise bilingual_problem("no_rows", en="a hall has {at least} one row", fr="une salle a {au moins} un rang")
        return rows


def test_a_problem_raised_in_both_languages_keeps_its_code_and_english_and_french_of_error_finds_its_french() -> None:
    with pytest.raises(ValidationError) as refused:
        Seats(rows=0)

    [error] = refused.value.errors(include_url=False)
    # Braces in the texts are the texts', not placeholders.
    assert (error["type"], error["msg"]) == ("no_rows", "a hall has {at least} one row")
    assert french_of_error(error) == "une salle a {au moins} un rang"


def test_a_bilingual_refusal_copied_or_sent_to_another_process_keeps_both_languages() -> None:
    refusal = BilingualValueError(en="should be empty", fr="doit être vide")

    for again in (pickle.loads(pickle.dumps(refusal)), copy.copy(refusal)):
        assert isinstance(again, BilingualValueError)
        assert (str(again), again.en, again.fr) == ("should be empty", "should be empty", "doit être vide")
