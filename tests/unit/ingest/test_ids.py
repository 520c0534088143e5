"""Event ids are a pure function of the upstream fact, so every replay or duplicate webhook repeats them."""

from uuid import uuid5

from hypothesis import given
from hypothesis import strategies as st

from services.ingest.domain.ids import EVENT_ID_NAMESPACE, event_id

parts = st.lists(st.text(max_size=12), max_size=5)


def test_the_same_fact_always_gets_the_same_id_across_releases() -> None:
    # Pinned: if this changes, every fact already ingested would be ingested again under a new id.
    assert event_id("theatre-du-nord", "nord-shopify", "shopify", "order", "5512345678901") == (
        "875e7ae7-116b-5178-99de-d1225152d482"
    )
    assert event_id("org", "src", "a") == str(uuid5(EVENT_ID_NAMESPACE, "org|src|a"))


def test_the_organisation_the_source_and_every_part_change_the_id() -> None:
    reference = event_id("theatre-du-nord", "nord-shopify", "order", "1")

    assert event_id("festival-est", "nord-shopify", "order", "1") != reference
    assert event_id("theatre-du-nord", "nord-boutique", "order", "1") != reference
    assert event_id("theatre-du-nord", "nord-shopify", "order", "2") != reference
    assert event_id("theatre-du-nord", "nord-shopify", "refund", "1") != reference


@given(first=parts, second=parts)
def test_two_different_lists_of_parts_never_share_an_id_even_with_separators_inside_them(
    first: list[str], second: list[str]
) -> None:
    same = event_id("org", "src", *first) == event_id("org", "src", *second)

    assert same == (first == second)


def test_a_separator_inside_a_part_is_escaped() -> None:
    assert event_id("org", "src", "a|b", "c") != event_id("org", "src", "a", "b|c")
    assert event_id("org", "src", "a\\", "|b") != event_id("org", "src", "a\\|", "b")


@given(parts=st.lists(st.text(), max_size=6))
def test_the_id_is_the_standard_uuid5_of_the_escaped_parts(parts: list[str]) -> None:
    escaped = "|".join(part.replace("\\", "\\\\").replace("|", "\\|") for part in ("org", "src", *parts))

    assert event_id("org", "src", *parts) == str(uuid5(EVENT_ID_NAMESPACE, escaped))
