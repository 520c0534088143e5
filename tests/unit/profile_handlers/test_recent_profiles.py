"""The profiles an instance keeps between batches: as many as it may, the one just stored always among them, and most
of them still there for patrons who come back in turn, more of them than it holds."""

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from types import UnionType
from typing import Union, get_args, get_origin, get_type_hints

from services.profile.domain.profile import RECORD_FIELDS, ProfileState
from services.profile.domain.strategies import Stamp
from services.profile.handlers import KEPT_BYTES_PER_RECORD, KEPT_PROFILE_BYTES, RecentProfiles, kept_size
from services.profile.ports import StoredProfile

ORGANISATION = "theatre-du-nord"


def _patron(number: int, applied: int = 1) -> StoredProfile:
    return StoredProfile(ORGANISATION, f"per_{number}", version=applied, applied=applied)


def test_a_kept_profile_is_taken_out_once_and_kept_again_in_its_latest_version() -> None:
    recent = RecentProfiles(4, chance=random.Random(1))
    recent.keep(_patron(1))
    recent.keep(_patron(1, applied=2))

    assert len(recent) == 1
    assert recent.take(ORGANISATION, "per_1") == _patron(1, applied=2)
    assert recent.take(ORGANISATION, "per_1") is None
    assert recent.take("festival-sud", "per_1") is None
    assert len(recent) == 0


def test_it_never_holds_more_than_its_capacity_and_always_the_profile_just_stored() -> None:
    recent = RecentProfiles(10, chance=random.Random(2))
    for number in range(100):
        recent.keep(_patron(number))

        assert len(recent) == min(number + 1, 10)
        kept = recent.take(ORGANISATION, f"per_{number}")
        assert kept == _patron(number)
        recent.keep(kept)


def test_taken_and_kept_in_any_order_it_gives_back_only_the_latest_version_kept_and_not_taken_since() -> None:
    chance = random.Random(3)
    recent = RecentProfiles(25, chance=random.Random(4))
    latest: dict[int, int] = {}
    found = 0
    for step in range(1, 3_000):
        number = chance.randrange(60)
        if chance.random() < 0.4:
            profile = recent.take(ORGANISATION, f"per_{number}")
            assert profile is None or profile == _patron(number, applied=latest.pop(number))
            found += profile is not None
        else:
            recent.keep(_patron(number, applied=step))
            latest[number] = step
        assert len(recent) <= 25
    assert found > 100


def test_patrons_coming_back_in_turn_more_of_them_than_it_holds_mostly_find_theirs_kept() -> None:
    # An on-sale day: 120 patrons buying one after another, five rounds, for 100 places. Letting the profile kept
    # longest go, none would ever be found.
    recent = RecentProfiles(100, chance=random.Random(5))
    found = 0
    for _ in range(5):
        for number in range(120):
            profile = recent.take(ORGANISATION, f"per_{number}")
            found += profile is not None
            recent.keep(profile or _patron(number))

    assert found / (4 * 120) > 0.5


def test_with_no_room_it_keeps_nothing() -> None:
    recent = RecentProfiles(0)
    recent.keep(_patron(1))

    assert len(recent) == 0
    assert recent.take(ORGANISATION, "per_1") is None


def _regular(number: int, records: int, applied: int = 1) -> StoredProfile:
    """A patron whose state holds `records` records (upstream ids here: any kind weighs the same)."""
    state = ProfileState(external_ids=frozenset(f"billetterie:{n}" for n in range(records)))
    return StoredProfile(ORGANISATION, f"per_{number}", state=state, version=applied, applied=applied)


def test_the_profiles_it_keeps_never_take_more_than_its_memory_by_their_estimated_size() -> None:
    budget = kept_size(_regular(0, 100)) * 5
    recent = RecentProfiles(1_000, memory_bytes=budget, chance=random.Random(6))
    chance = random.Random(7)
    for number in range(300):
        profile = _regular(number, chance.choice([0, 5, 100, 400]))
        recent.keep(profile)

        kept = [recent.take(ORGANISATION, f"per_{n}") for n in range(number + 1)]
        held = [profile for profile in kept if profile is not None]
        assert sum(map(kept_size, held)) <= budget
        # The one just stored is always among them: it fits on its own.
        assert held[-1] == profile
        for again in held:
            recent.keep(again)
        assert recent.kept_bytes == sum(map(kept_size, held))
    # Occasional patrons and regulars alike: far fewer than the count allows.
    assert 0 < len(recent) < 100


def test_a_profile_larger_than_its_memory_is_not_kept_nor_its_older_version_given_back() -> None:
    recent = RecentProfiles(10, memory_bytes=kept_size(_regular(1, 50)), chance=random.Random(8))
    recent.keep(_regular(1, 10, applied=1))
    assert len(recent) == 1

    recent.keep(_regular(1, 51, applied=2))

    assert recent.take(ORGANISATION, "per_1") is None
    assert (len(recent), recent.kept_bytes) == (0, 0)


def test_the_records_a_state_holds_are_counted_in_every_kind() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    state = ProfileState(
        emails={"anne@example.com": Stamp(at, "shop")},
        sources=frozenset({"shop", "billetterie"}),
        opens=(at, at),
    )

    assert state.records_held == 1 + 2 + 2
    assert (
        kept_size(StoredProfile(ORGANISATION, "per_1", state=state)) == KEPT_PROFILE_BYTES + 5 * KEPT_BYTES_PER_RECORD
    )


def test_every_field_of_a_state_that_holds_records_is_counted() -> None:
    # A field added later holding a map, a set or a sequence (even one that may be None) weighs in too.
    holding = set()
    for name, annotation in get_type_hints(ProfileState).items():
        kinds = get_args(annotation) if get_origin(annotation) in (UnionType, Union) else (annotation,)
        if any(get_origin(kind) in (Mapping, frozenset, tuple) for kind in kinds):
            holding.add(name)

    assert holding
    assert holding == {name for name in ProfileState.__dataclass_fields__ if name in RECORD_FIELDS}
