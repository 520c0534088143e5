"""The profiles an instance keeps between batches: as many as it may, the one just stored always among them, and most
of them still there for patrons who come back in turn, more of them than it holds."""

import random

from services.profile.handlers import RecentProfiles
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
