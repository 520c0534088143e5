"""The store's erasure steps, on both stores: a person leaves the blocks for good, and every other member stays.

A block only the erased person was in stays, listing no one, on MongoDB: its versions' ids are never set free, since
a process that still knows the versions before one would take it again and hide what it appended there."""

from dataclasses import replace
from typing import Any

import pytest

from services.identity.adapters.mongo import BLOCKS, MongoIdentityStore
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.persons import Person, PersonStatus
from services.identity.domain.records import NormalisedRecord
from services.identity.ports import IdentityStore
from tests.integration.identity.conftest import ORGANISATION, START, everything_stored

ERASED = "per_erased"
# A key only the erased person is filed under, and one they share with another person.
THEIRS, SHARED = "ph:+15145550199", "ln:TRMBL|pc:H2J2L1"


async def test_a_person_leaving_the_blocks_is_in_no_version_of_any_and_a_block_only_they_were_in_lists_no_one(
    identity_store: IdentityStore,
) -> None:
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS, SHARED], ERASED)
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], "per_marc")
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS], ERASED)

    await identity_store.leave_blocks(ORGANISATION, ERASED)
    await identity_store.leave_blocks(ORGANISATION, ERASED)

    assert ERASED not in (await everything_stored(identity_store))["blocks"]
    assert await identity_store.block_members(ORGANISATION, [THEIRS, SHARED]) == {THEIRS: [], SHARED: ["per_marc"]}
    # The key is free again for whoever comes with it.
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS], "per_new")
    assert await identity_store.block_members(ORGANISATION, [THEIRS]) == {THEIRS: ["per_new"]}


async def test_a_process_that_read_a_block_before_the_person_left_it_does_not_file_them_again(
    identity_store: IdentityStore,
) -> None:
    if not isinstance(identity_store, MongoIdentityStore):
        return  # one process holds one view of the in-memory store
    other = MongoIdentityStore(identity_store.database)
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], ERASED)
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], "per_marc")
    assert await other.block_members(ORGANISATION, [SHARED]) == {SHARED: [ERASED, "per_marc"]}

    await identity_store.leave_blocks(ORGANISATION, ERASED)
    # The other process adds to the block from the version it read, which still lists the erased person.
    await other.add_to_blocks(ORGANISATION, [SHARED], "per_lea")

    assert ERASED not in (await everything_stored(identity_store))["blocks"]
    assert await identity_store.block_members(ORGANISATION, [SHARED]) == {SHARED: ["per_marc", "per_lea"]}


async def test_a_process_that_read_a_block_only_the_person_was_in_files_after_them_where_every_process_sees_it(
    identity_store: IdentityStore,
) -> None:
    if not isinstance(identity_store, MongoIdentityStore):
        return  # one process holds one view of the in-memory store
    other = MongoIdentityStore(identity_store.database)
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS], ERASED)
    assert await other.block_members(ORGANISATION, [THEIRS]) == {THEIRS: [ERASED]}

    await identity_store.leave_blocks(ORGANISATION, ERASED)
    await other.add_to_blocks(ORGANISATION, [THEIRS], "per_lea")

    assert ERASED not in (await everything_stored(identity_store))["blocks"]
    fresh = MongoIdentityStore(identity_store.database)
    assert await fresh.block_members(ORGANISATION, [THEIRS]) == {THEIRS: ["per_lea"]}
    # And one filed by a process that never read the block lands after Lea, not in her place.
    await fresh.add_to_blocks(ORGANISATION, [THEIRS], "per_zoe")
    assert await MongoIdentityStore(identity_store.database).block_members(ORGANISATION, [THEIRS]) == {
        THEIRS: ["per_lea", "per_zoe"]
    }


async def test_an_erased_person_takes_no_identifier_or_record_back(identity_store: IdentityStore) -> None:
    # A resolver that decided before the erasure may add to the person after it.
    person = Person(person_id=ERASED, organisation_id=ORGANISATION, created_at=START, created_by_event="e1")
    await identity_store.insert_person(person)
    stored = await identity_store.person(ORGANISATION, ERASED)
    assert stored is not None
    assert await identity_store.replace_person(
        replace(stored, status=PersonStatus.ERASED), expected_version=stored.version
    )

    await identity_store.add_to_person(
        ORGANISATION,
        ERASED,
        identifiers=[Identifier(IdentifierType.PHONE, "+15145550199")],
        records=[NormalisedRecord(first_name="helene", phone="+15145550199")],
    )

    after = await identity_store.person(ORGANISATION, ERASED)
    assert after is not None
    assert (after.status, after.identifiers, after.records) == (PersonStatus.ERASED, frozenset(), ())


class _CrashError(Exception):
    """The process dies here."""


class _UpdatesUntilCrash:
    """The blocks collection of a process that dies after rewriting `updates` documents one at a time."""

    def __init__(self, collection: Any, updates: int) -> None:
        self._collection = collection
        self._left = updates

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def update_one(self, query: Any, change: Any) -> Any:
        if self._left == 0:
            raise _CrashError
        self._left -= 1
        return await self._collection.update_one(query, change)


@pytest.mark.parametrize("updates", range(2))
async def test_a_person_leaving_the_blocks_again_finishes_what_a_crash_left_of_it(
    identity_store: IdentityStore, updates: int
) -> None:
    if not isinstance(identity_store, MongoIdentityStore):
        return  # the in-memory store leaves a block in one step
    # Versions [erased] [erased, marc]: leaving appends [marc], then rewrites the two before it in place.
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], ERASED)
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], "per_marc")
    crashing = MongoIdentityStore(identity_store.database)
    crashing._block_documents = _UpdatesUntilCrash(identity_store.database[BLOCKS], updates)  # type: ignore[assignment]
    with pytest.raises(_CrashError):
        await crashing.leave_blocks(ORGANISATION, ERASED)

    await MongoIdentityStore(identity_store.database).leave_blocks(ORGANISATION, ERASED)

    assert ERASED not in (await everything_stored(identity_store))["blocks"]
    assert await identity_store.block_members(ORGANISATION, [SHARED]) == {SHARED: ["per_marc"]}


async def test_releasing_everything_a_person_owns_frees_what_they_were_never_known_to_hold(
    identity_store: IdentityStore,
) -> None:
    # A resolver that decided before the erasure claimed these for the person after it; the person's document,
    # erased, lists none of them.
    theirs = [Identifier(IdentifierType.PHONE, "+15145550199"), Identifier(IdentifierType.EMAIL, "helene@example.org")]
    marcs = Identifier(IdentifierType.EMAIL, "marc@example.org")
    for identifier in theirs:
        assert await identity_store.claim(ORGANISATION, identifier, ERASED) == ERASED
    assert await identity_store.claim(ORGANISATION, marcs, "per_marc") == "per_marc"

    await identity_store.release_all(ORGANISATION, ERASED)
    await identity_store.release_all(ORGANISATION, ERASED)

    assert [await identity_store.owner_of(ORGANISATION, identifier) for identifier in theirs] == [None, None]
    assert await identity_store.claim(ORGANISATION, theirs[0], "per_new") == "per_new"
    assert await identity_store.claim(ORGANISATION, marcs, "per_new") == "per_marc"


async def test_an_erased_person_s_identifiers_leave_every_version_of_another_person_and_the_rest_stays(
    identity_store: IdentityStore,
) -> None:
    bea_email = Identifier(IdentifierType.EMAIL, "bea@example.com")
    bea_shop = Identifier(IdentifierType.EXTERNAL_ID, "S-1", "shopify-boutique")
    anne_email = Identifier(IdentifierType.EMAIL, "anne@example.com")
    anne = Person("per_anne", ORGANISATION, START, "e1", identifiers=frozenset({anne_email}))
    await identity_store.insert_person(anne)
    # While Béa was merged into Anne: her identifiers, her record, and a fact naming Anne's email and Béa's shop id.
    bea_record = NormalisedRecord(source="shopify-boutique", external_id="S-1", email="bea@example.com")
    linking = NormalisedRecord(source="shopify-boutique", external_id="S-1", email="anne@example.com")
    await identity_store.add_to_person(
        ORGANISATION, "per_anne", identifiers=[bea_email, bea_shop], records=[bea_record]
    )
    await identity_store.add_to_person(ORGANISATION, "per_anne", records=[linking])

    await identity_store.scrub_records(ORGANISATION, "per_anne", [bea_email, bea_shop])
    await identity_store.scrub_records(ORGANISATION, "per_anne", [bea_email, bea_shop])

    held = await identity_store.person(ORGANISATION, "per_anne")
    assert held is not None
    assert held.identifiers == {anne_email}
    assert held.records == (NormalisedRecord(source="shopify-boutique", email="anne@example.com"),)
    everything = await everything_stored(identity_store)
    assert "bea@example.com" not in everything["persons"]
    assert "S-1" not in everything["persons"]
