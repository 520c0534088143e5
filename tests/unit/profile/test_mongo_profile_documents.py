"""Profile documents as the Mongo store writes and reads them: what a late fact landed leaves, old documents
included."""

from services.profile.adapters.mongo import _profile_document, _profile_from
from services.profile.ports import LandedFact, StoredProfile

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
