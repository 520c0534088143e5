"""Profile documents as the Mongo store writes and reads them: the state compressed, what a late fact landed leaves and
how a merge moved its survivor's household, old documents included."""

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from bson.binary import Binary

from services.profile.adapters.mongo import (
    _LEFT_OUT_WHEN_EMPTY,
    COMPRESSED_JSON,
    _document_of,
    _profile_from,
    _texts,
)
from services.profile.domain.documents import DocumentError
from services.profile.domain.profile import ProfileState
from services.profile.domain.strategies import Stamp, Stamped
from services.profile.ports import HouseholdMove, LandedFact, MergeInForce, StoredProfile, UndoneMerge

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

    assert _profile_from(ORGANISATION, "per_anne", _document_of(profile)) == profile


def test_how_far_each_merged_person_s_log_was_folded_reads_back_as_stored_and_as_nothing_from_before_it_was_kept() -> (
    None
):
    profile = StoredProfile(
        ORGANISATION, "per_anne", version=4, applied=4, folded_through=(("per_bea", 3), ("per_carl", 7))
    )
    document = _document_of(profile)

    assert _profile_from(ORGANISATION, "per_anne", document) == profile
    del document["folded_through"]
    assert _profile_from(ORGANISATION, "per_anne", document).folded_through == ()


def test_a_document_stored_with_one_late_fact_slot_reads_as_a_late_fact_of_someone_unknown() -> None:
    document = _document_of(StoredProfile(ORGANISATION, "per_anne", version=4, applied=4))
    assert "landed_facts" not in document
    document.update(landed="late:sale-b", landed_outputs=[CHANGED, FIRED])

    profile = _profile_from(ORGANISATION, "per_anne", document)

    assert profile.landed == (LandedFact(None, "late:sale-b", (CHANGED, FIRED)),)
    assert profile.landed_fact("late:sale-b") == profile.landed[0]


def test_a_document_stored_before_any_late_fact_was_kept_reads_with_none() -> None:
    document = _document_of(StoredProfile(ORGANISATION, "per_anne", version=1, applied=1))
    document.pop("landed_facts", None)

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

    assert _profile_from(ORGANISATION, "per_anne", _document_of(profile)) == profile


def test_a_merge_stored_before_household_moves_were_kept_reads_as_moving_the_survivor_nowhere() -> None:
    document = _document_of(merged_anne(MergeInForce("mrg_1", ("per_bea",))))
    for merge in document["merges"]:
        for name in ("household_moved_to", "household_moved_at", "household_before", "household_before_at"):
            del merge[name]

    profile = _profile_from(ORGANISATION, "per_anne", document)

    assert profile.merges == (MergeInForce("mrg_1", ("per_bea",)),)
    assert profile.merges[0].household_move is None


def _patron_state() -> ProfileState:
    stamp = Stamp(datetime(2026, 9, 1, 16, 10, tzinfo=UTC), "sale-1")
    return ProfileState(
        first_name=Stamped("Élise", stamp),
        last_name=Stamped("Gagnon", stamp),
        emails={"elise.gagnon@example.com": stamp},
        sources=frozenset({"billetterie-principale"}),
        latest_event_at=stamp.time,
    )


def test_a_state_is_stored_compressed_and_reads_back_as_it_was() -> None:
    profile = StoredProfile(ORGANISATION, "per_anne", state=_patron_state(), version=1, applied=1)

    document = _document_of(profile)

    assert isinstance(document["state"], Binary)
    assert document["state"].subtype == COMPRESSED_JSON
    assert len(document["state"]) < len(json.dumps(profile.state.to_document()))
    assert _profile_from(ORGANISATION, "per_anne", document) == profile


def test_a_state_stored_as_one_text_or_as_fields_by_earlier_versions_reads_back_the_same() -> None:
    profile = StoredProfile(ORGANISATION, "per_anne", state=_patron_state(), version=1, applied=1)
    as_text = {**_document_of(profile), "state": json.dumps(profile.state.to_document(), ensure_ascii=False)}
    as_fields = {**_document_of(profile), "state": profile.state.to_document()}

    assert _profile_from(ORGANISATION, "per_anne", as_text) == profile
    assert _profile_from(ORGANISATION, "per_anne", as_fields) == profile


def test_the_erasure_proof_reads_the_texts_inside_a_compressed_state() -> None:
    document = _document_of(StoredProfile(ORGANISATION, "per_bea", state=_patron_state(), version=1, applied=1))

    texts = list(_texts(document))

    assert any("elise.gagnon@example.com" in text for text in texts)
    assert any("élise" in text for text in texts)


def test_with_compression_off_a_state_is_stored_as_the_json_text_earlier_releases_read() -> None:
    profile = StoredProfile(ORGANISATION, "per_anne", state=_patron_state(), version=1, applied=1)

    document = _document_of(profile, compressed=False)

    assert json.loads(document["state"]) == profile.state.to_document()
    assert _profile_from(ORGANISATION, "per_anne", document) == profile


def test_a_damaged_or_unknown_state_is_refused_naming_it_and_the_erasure_proof_still_reads_the_rest() -> None:
    document = _document_of(StoredProfile(ORGANISATION, "per_bea", state=_patron_state(), version=1, applied=1))
    damaged = {**document, "state": Binary(b"not compressed", COMPRESSED_JSON)}
    unknown = {**document, "state": Binary(b"{}", 0x81)}

    with pytest.raises(DocumentError, match="does not decompress"):
        _profile_from(ORGANISATION, "per_bea", damaged)
    with pytest.raises(DocumentError, match="stored as Binary"):
        _profile_from(ORGANISATION, "per_bea", unknown)
    assert "per_bea" in list(_texts(damaged))


def test_the_last_changes_announcements_are_kept_compressed_and_read_back_as_they_were() -> None:
    profile = StoredProfile(
        ORGANISATION, "per_anne", version=2, applied=2, last_change="sale-2", last_outputs=(CHANGED, FIRED)
    )

    document = _document_of(profile)
    as_list = {**document, "last_outputs": [CHANGED, FIRED]}

    assert isinstance(document["last_outputs"], Binary)
    assert _profile_from(ORGANISATION, "per_anne", document) == profile
    assert _profile_from(ORGANISATION, "per_anne", as_list) == profile, "as earlier versions stored them"
    assert _document_of(profile, compressed=False)["last_outputs"] == [CHANGED, FIRED]
    assert "last_outputs" not in _document_of(replace(profile, last_outputs=()))


def test_the_erasure_proof_reads_the_announcements_kept_compressed() -> None:
    told = b'{"id":"changed-2","data":{"changed":{"emails":["bea.tremblay@example.com"]}}}'
    profile = StoredProfile(ORGANISATION, "per_bea", version=2, applied=2, last_change="sale-2", last_outputs=(told,))

    assert any("bea.tremblay@example.com" in text for text in _texts(_document_of(profile)))


EVERY_FIELD_SET = StoredProfile(
    ORGANISATION,
    "per_anne",
    version=9,
    applied=8,
    segments=frozenset({"abonnes"}),
    due_at=MOVED_AT,
    due_handle="2026-11-14T19:00:00+00:00|3#12",
    filed_at=JOINED_AT,
    last_change="sale-9",
    last_outputs=(CHANGED,),
    swept="sweep:2026-11-01T00:00:00+00:00",
    swept_outputs=(CHANGED,),
    moved="restored:mrg_1",
    moved_outputs=(FIRED,),
    landed=(LandedFact("per_bea", "late:sale-b", (CHANGED,)),),
    merged_into="per_zoe",
    merged_by="mrg_2",
    merged_at=MOVED_AT,
    active_at=JOINED_AT,
    merges=(MergeInForce("mrg_1", ("per_bea",)),),
    undone=(UndoneMerge("mrg_0", (FIRED,)),),
    fired=frozenset({"third-show:per_anne:2026-27"}),
    held_sent=frozenset({"lapsed-donor:2026"}),
    folded_through=(("per_bea", 3),),
    household_id="hh_bea",
    household_at=MOVED_AT,
)
FIELDS_KEPT_EMPTY = {"_id", "organisation_id", "person_id", "state", "version", "applied", "segments"}


def test_a_profile_with_every_field_set_stores_each_and_reads_back_as_stored() -> None:
    document = _document_of(EVERY_FIELD_SET)

    assert set(document) == FIELDS_KEPT_EMPTY | _LEFT_OUT_WHEN_EMPTY | {"filed_at"}
    assert _profile_from(ORGANISATION, "per_anne", document) == EVERY_FIELD_SET


def test_a_profile_leaves_its_empty_fields_out_of_its_document_and_reads_back_as_stored() -> None:
    profile = StoredProfile(ORGANISATION, "per_anne", state=_patron_state(), version=1, applied=1)

    document = _document_of(profile)

    assert set(document) == FIELDS_KEPT_EMPTY
    assert _profile_from(ORGANISATION, "per_anne", document) == profile
    as_older_releases_read = _document_of(profile, compressed=False)
    assert set(as_older_releases_read) == FIELDS_KEPT_EMPTY | _LEFT_OUT_WHEN_EMPTY | {"filed_at"}
    assert _profile_from(ORGANISATION, "per_anne", as_older_releases_read) == profile


@pytest.mark.parametrize("name", sorted(_LEFT_OUT_WHEN_EMPTY | {"filed_at"}))
def test_each_field_left_out_when_empty_is_stored_alone_and_reads_back_as_stored(name: str) -> None:
    attribute = {"landed_facts": "landed"}.get(name, name)
    profile = replace(
        StoredProfile(ORGANISATION, "per_anne", version=2, applied=2),
        **{attribute: getattr(EVERY_FIELD_SET, attribute)},
    )

    document = _document_of(profile)

    assert set(document) == FIELDS_KEPT_EMPTY | {name, *({"filed_at"} if name == "due_handle" else set())}
    assert _profile_from(ORGANISATION, "per_anne", document) == profile


def test_a_profile_filed_with_no_moment_keeps_that_none_rather_than_read_as_filed_for_its_due_moment() -> None:
    profile = StoredProfile(
        ORGANISATION, "per_anne", version=2, applied=2, due_at=MOVED_AT, due_handle="2026-11-14|1#1", filed_at=None
    )

    document = _document_of(profile)

    assert document["filed_at"] is None
    assert _profile_from(ORGANISATION, "per_anne", document).filed_at is None
    del document["filed_at"]
    assert _profile_from(ORGANISATION, "per_anne", document).filed_at == MOVED_AT
