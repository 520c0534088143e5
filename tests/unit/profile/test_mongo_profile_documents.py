"""Profile documents as the Mongo store writes and reads them: what a late fact landed leaves and how a merge moved
its survivor's household, old documents included."""

from datetime import UTC, datetime

from services.profile.adapters.mongo import _profile_document, _profile_from
from services.profile.ports import HouseholdMove, LandedFact, MergeInForce, StoredProfile

ORGANISATION = "theatre-du-nord"
CHANGED = b'{"id":"changed-1","personid":"per_anne"}'
FIRED = b'{"id":"fired-1","personid":"per_anne"}'


def test_the_late_facts_landed_for_each_merged_person_read_back_as_stored() -> None:
    profile = StoredProfile(
        ORGANISATION,
        "per_anne",
        version=4,
        applied=4,
        landed=(
            LandedFact("per_bea", "late:sale-b", (CHANGED, FIRED)),
            LandedFact("per_carl", "late:sale-c", (CHANGED,)),
        ),
    )

    assert _profile_from(ORGANISATION, "per_anne", _profile_document(profile)) == profile


def test_a_document_stored_with_one_late_fact_slot_reads_as_a_late_fact_of_someone_unknown() -> None:
    document = _profile_document(StoredProfile(ORGANISATION, "per_anne", version=4, applied=4))
    del document["landed_facts"]
    document.update(landed="late:sale-b", landed_outputs=[CHANGED, FIRED])

    profile = _profile_from(ORGANISATION, "per_anne", document)

    assert profile.landed == (LandedFact(None, "late:sale-b", (CHANGED, FIRED)),)
    assert profile.landed_fact("late:sale-b") == profile.landed[0]


def test_a_document_stored_before_any_late_fact_was_kept_reads_with_none() -> None:
    document = _profile_document(StoredProfile(ORGANISATION, "per_anne", version=1, applied=1))
    del document["landed_facts"]

    assert _profile_from(ORGANISATION, "per_anne", document).landed == ()


MOVED_AT = datetime(2026, 11, 14, 19, 0, 0, 999000, tzinfo=UTC)
JOINED_AT = datetime(2026, 10, 2, 9, 30, tzinfo=UTC)


def merged_anne(*merges: MergeInForce) -> StoredProfile:
    return StoredProfile(
        ORGANISATION, "per_anne", version=3, applied=3, merges=merges, household_id="hh_bea", household_at=MOVED_AT
    )


def test_the_household_moves_of_the_merges_a_survivor_holds_read_back_as_stored() -> None:
    profile = merged_anne(
        MergeInForce("mrg_1", ("per_bea",), household_move=HouseholdMove("hh_bea", MOVED_AT, "hh_anne", JOINED_AT)),
        MergeInForce("mrg_2", ("per_carl",), household_move=HouseholdMove("hh_carl", MOVED_AT)),
        MergeInForce("mrg_3", ("per_dan",)),
    )

    assert _profile_from(ORGANISATION, "per_anne", _profile_document(profile)) == profile


def test_a_merge_stored_before_household_moves_were_kept_reads_as_moving_the_survivor_nowhere() -> None:
    document = _profile_document(merged_anne(MergeInForce("mrg_1", ("per_bea",))))
    for merge in document["merges"]:
        for name in ("household_moved_to", "household_moved_at", "household_before", "household_before_at"):
            del merge[name]

    profile = _profile_from(ORGANISATION, "per_anne", document)

    assert profile.merges == (MergeInForce("mrg_1", ("per_bea",)),)
    assert profile.merges[0].household_move is None
