"""The states a profile store process last read or wrote: given back only for the very bytes they were stored as."""

from dataclasses import replace
from datetime import UTC, datetime

from bson.binary import Binary

from services.profile.adapters.known_states import KnownStates
from services.profile.adapters.mongo import _document_of
from services.profile.domain.profile import ProfileState
from services.profile.domain.strategies import Stamp, Stamped
from services.profile.ports import StoredProfile

ANNE = ("theatre-du-nord", "per_anne")
STAMP = Stamp(datetime(2026, 9, 1, 16, 10, tzinfo=UTC), "sale-1")
ELISE = ProfileState(first_name=Stamped("Élise", STAMP), emails={"elise@example.com": STAMP})


def stored_as(state: ProfileState) -> Binary:
    state_bytes: Binary = _document_of(StoredProfile(*ANNE, state=state))["state"]
    return state_bytes


def test_a_state_read_or_written_is_given_back_for_the_same_bytes_and_for_no_other() -> None:
    known = KnownStates()
    renamed = replace(ELISE, first_name=Stamped("Élisa", STAMP))
    known.remember(ANNE, stored_as(ELISE), ELISE)

    assert known.decoded(ANNE, stored_as(ELISE)) is ELISE
    # Another process stored another state since; or the same bytes under another subtype, or as text.
    assert known.decoded(ANNE, stored_as(renamed)) is None
    assert known.decoded(ANNE, Binary(bytes(stored_as(ELISE)), 0)) is None
    assert known.decoded(ANNE, bytes(stored_as(ELISE)).hex()) is None
    assert known.decoded(("theatre-du-nord", "per_bea"), stored_as(ELISE)) is None


def test_the_bytes_of_a_state_are_given_back_for_that_very_state_object_only() -> None:
    known = KnownStates()
    known.remember(ANNE, stored_as(ELISE), ELISE)

    assert known.encoded(ANNE, ELISE) == stored_as(ELISE)
    # Equal but not the one remembered: encoded anew, which costs what it did before.
    assert known.encoded(ANNE, replace(ELISE)) is None


def test_a_state_stored_as_text_is_not_kept_and_the_longest_known_makes_room() -> None:
    known = KnownStates(capacity=2)
    known.remember(ANNE, '{"first_name": "Élise"}', ELISE)
    assert len(known) == 0

    for person in ("per_a", "per_b", "per_c"):
        known.remember(("theatre-du-nord", person), stored_as(ELISE), ELISE)

    assert (len(known), known.bytes_kept) == (2, 2 * len(stored_as(ELISE)))
    assert known.decoded(("theatre-du-nord", "per_a"), stored_as(ELISE)) is None
    assert known.decoded(("theatre-du-nord", "per_c"), stored_as(ELISE)) is ELISE


def test_the_states_known_are_bounded_by_the_bytes_stored_for_them() -> None:
    one = len(stored_as(ELISE))
    known = KnownStates(budget=3 * one)

    for person in ("per_a", "per_b", "per_c", "per_d"):
        known.remember(("theatre-du-nord", person), stored_as(ELISE), ELISE)
    # Remembered again, a state takes its own place, not another's.
    known.remember(("theatre-du-nord", "per_d"), stored_as(ELISE), ELISE)

    assert (len(known), known.bytes_kept) == (3, 3 * one)
    assert known.decoded(("theatre-du-nord", "per_a"), stored_as(ELISE)) is None
    assert known.decoded(("theatre-du-nord", "per_b"), stored_as(ELISE)) is ELISE
    # One larger than the whole budget is not kept.
    small = KnownStates(budget=one - 1)
    small.remember(ANNE, stored_as(ELISE), ELISE)
    assert (len(small), small.bytes_kept) == (0, 0)


def test_a_state_forgotten_is_not_given_back_and_frees_its_bytes() -> None:
    known = KnownStates()
    known.remember(ANNE, stored_as(ELISE), ELISE)

    known.forget(ANNE)
    known.forget(ANNE)

    assert known.decoded(ANNE, stored_as(ELISE)) is None
    assert (len(known), known.bytes_kept) == (0, 0)
