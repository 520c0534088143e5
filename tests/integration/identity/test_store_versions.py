"""Persons are chains of versions that several processes read and extend: an erasure must reach them all, and
what a process knows of them is never older than what it wrote itself."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters import mongo
from services.identity.adapters.documents import person_document, person_from
from services.identity.adapters.mongo import IDENTIFIERS, INDEXES, PERSONS, SUPPRESSIONS, MongoIdentityStore
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.persons import Person, PersonStatus
from services.identity.domain.records import NormalisedRecord
from services.identity.ports import PersonAddition
from shared.mongo import Document, ensure_indexes, mongo_client
from tests.conftest import Servers
from tests.integration.held_calls import HeldCall
from tests.integration.identity.conftest import ORGANISATION, START


@pytest.fixture
async def database(servers: Servers) -> AsyncIterator[AsyncDatabase[Document]]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        database: AsyncDatabase[Document] = client[name]
        await ensure_indexes(database, INDEXES)
        yield database
        await client.drop_database(name)


def anne() -> Person:
    return Person(
        person_id="per-anne",
        organisation_id=ORGANISATION,
        created_at=START,
        created_by_event="e1",
        records=(NormalisedRecord(first_name="anne", last_name="tremblay", email="anne@example.com"),),
    )


async def test_a_process_that_knew_a_person_before_another_erased_it_finds_it_erased_and_cannot_write_it_back(
    database: AsyncDatabase[Document],
) -> None:
    knew, erasing = MongoIdentityStore(database), MongoIdentityStore(database)
    await knew.insert_person(anne())
    await knew.add_to_person(ORGANISATION, "per-anne", records=(NormalisedRecord(city="montreal"),))
    current = await erasing.person(ORGANISATION, "per-anne")
    assert current is not None
    erased = replace(current, status=PersonStatus.ERASED, identifiers=frozenset(), records=())
    assert await erasing.replace_person(erased, expected_version=current.version)

    found = await knew.person(ORGANISATION, "per-anne")
    assert found is not None
    assert found.status is PersonStatus.ERASED
    await knew.add_to_person(ORGANISATION, "per-anne", records=(NormalisedRecord(first_name="anne"),))
    again = await MongoIdentityStore(database).person(ORGANISATION, "per-anne")
    assert again is not None
    assert again.status is PersonStatus.ERASED
    assert again.records == ()
    # No version kept anything of hers.
    async for document in database[PERSONS].find({"person_id": "per-anne"}):
        assert document["records"] == "[]", document
        assert document["status"] == PersonStatus.ERASED.value, document


async def test_a_person_stored_with_its_records_as_documents_by_an_earlier_version_is_read_and_extended(
    database: AsyncDatabase[Document],
) -> None:
    earlier = person_document(replace(anne(), version=1)) | {
        "_id": f"{ORGANISATION}|per-anne#1",
        "records": [{"first_name": "anne", "last_name": "tremblay", "email": "anne@example.com"}],
    }
    await database[PERSONS].insert_one(earlier)
    store = MongoIdentityStore(database)

    assert await store.person(ORGANISATION, "per-anne") == replace(anne(), version=1)
    await store.add_to_person(ORGANISATION, "per-anne", records=(NormalisedRecord(city="montreal"),))

    extended = await MongoIdentityStore(database).person(ORGANISATION, "per-anne")
    assert extended is not None
    assert extended.records == (*anne().records, NormalisedRecord(city="montreal"))


async def test_a_person_stored_while_a_read_found_none_is_found_by_the_next_read(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MongoIdentityStore(database)
    held = HeldCall(monkeypatch, "found_by_id", PERSONS, when="after")
    async with store.trusting({ORGANISATION}):
        reading = asyncio.create_task(store.person(ORGANISATION, "per-anne"))
        await held.until_held()
        await store.insert_person(anne())
        held.release()
        assert await reading is None, "the read reached the store before the person"
        # The process now answers from what it knows: it must know the person it stored, not the read's absence.
        found = await store.person(ORGANISATION, "per-anne")
    assert found == replace(anne(), version=1)


# Delivered again, the creation finds its version taken: by this process, which knows a newer one still.
@pytest.mark.parametrize("creation_delivered_again", [False, True])
async def test_a_version_appended_while_a_read_found_the_one_before_is_the_one_known_after(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch, creation_delivered_again: bool
) -> None:
    store = MongoIdentityStore(database)
    await store.insert_person(anne())
    # Another process writes: what this one knows is read again.
    await MongoIdentityStore(database).insert_person(replace(anne(), person_id="per-bob"))
    held = HeldCall(monkeypatch, "found_by_id", PERSONS, when="after")
    async with store.trusting({ORGANISATION}):
        # Known from its insert: the read looks for the version after it, and finds none.
        reading = asyncio.create_task(store.person(ORGANISATION, "per-anne"))
        await held.until_held()
        await store.add_to_person(ORGANISATION, "per-anne", records=(NormalisedRecord(city="montreal"),))
        if creation_delivered_again:
            await store.insert_person(anne())
        held.release()
        assert (await reading) == replace(anne(), version=1)
        found = await store.person(ORGANISATION, "per-anne")
    assert found is not None
    assert found.version == 2
    assert found.records == (*anne().records, NormalisedRecord(city="montreal"))


async def test_an_identifier_claimed_while_a_read_found_it_free_is_owned_at_the_next_read(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MongoIdentityStore(database)
    email = Identifier(IdentifierType.EMAIL, "anne@example.com")
    phone = Identifier(IdentifierType.PHONE, "+15145550123")
    await MongoIdentityStore(database).claim(ORGANISATION, phone, "per-bob")
    async with store.trusting({ORGANISATION}):
        # A claim someone else made first: the identifiers listed on entering no longer tell who owns what.
        assert await store.claim(ORGANISATION, phone, "per-anne") == "per-bob"
        held = HeldCall(monkeypatch, "found_by_id", IDENTIFIERS, when="after")
        reading = asyncio.create_task(store.owner_of(ORGANISATION, email))
        await held.until_held()
        assert await store.claim(ORGANISATION, email, "per-anne") == "per-anne"
        held.release()
        assert await reading is None, "the read reached the store before the claim"
    # The next batch: no one else wrote since, so the process answers from what it knows.
    async with store.trusting({ORGANISATION}):
        assert await store.owner_of(ORGANISATION, email) == "per-anne"


async def test_a_suppression_stored_while_a_read_found_none_is_known_at_the_next_read(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MongoIdentityStore(database)
    held = HeldCall(monkeypatch, "find_one", SUPPRESSIONS, when="after")
    async with store.trusting({ORGANISATION}):
        reading = asyncio.create_task(store.suppressions_exist(ORGANISATION))
        await held.until_held()
        # An erasure asking not to be added again, handled beside the read.
        await store.suppress(ORGANISATION, ["hash-of-anne"])
        held.release()
        await reading
    async with store.trusting({ORGANISATION}):
        assert await store.suppressions_exist(ORGANISATION)


async def test_an_identifier_released_twice_for_one_person_stays_with_whoever_claimed_it_between(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoIdentityStore(database)
    email = Identifier(IdentifierType.EMAIL, "anne@example.com")
    async with store.trusting({ORGANISATION}):
        await store.claim(ORGANISATION, email, "per-erased")
        await store.release(ORGANISATION, email, "per-erased")
        assert await store.claim(ORGANISATION, email, "per-anne") == "per-anne"
        # A second task freeing it from the erased person comes late: it releases nothing.
        await store.release(ORGANISATION, email, "per-erased")
        assert await store.owner_of(ORGANISATION, email) == "per-anne"


@pytest.mark.parametrize("seen_before", [False, True], ids=["unseen", "seen"])
async def test_persons_to_keep_apart_from_are_added_whether_or_not_this_process_read_the_person(
    database: AsyncDatabase[Document], seen_before: bool
) -> None:
    await MongoIdentityStore(database).insert_person(anne())
    store = MongoIdentityStore(database)
    if seen_before:
        await store.person(ORGANISATION, "per-anne")

    await store.add_to_persons(ORGANISATION, [PersonAddition("per-anne", kept_apart_from=["per-bea"])])

    stored = await MongoIdentityStore(database).person(ORGANISATION, "per-anne")
    assert stored is not None
    assert stored.kept_apart_from == frozenset({"per-bea"})


async def test_a_person_is_decoded_once_per_version_and_one_written_or_changed_elsewhere_is_read_as_stored(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[Document] = []

    def counted_person_from(document: Document) -> Person:
        decoded.append(document)
        return person_from(document)

    monkeypatch.setattr(mongo, "person_from", counted_person_from)
    store, elsewhere = MongoIdentityStore(database), MongoIdentityStore(database)
    city = NormalisedRecord(city="montreal")
    await store.write_persons(ORGANISATION, [anne()], [])
    await store.write_persons(ORGANISATION, [], [PersonAddition("per-anne", records=(city,))])
    async with store.trusting({ORGANISATION}):
        read = [await store.person(ORGANISATION, "per-anne") for _ in range(3)]
    # Written as decided, so read back as written: nothing to decode.
    assert decoded == []
    assert read[0] == read[1] == read[2] == replace(anne(), records=(*anne().records, city), version=2)

    phone = NormalisedRecord(phone="+15145550101")
    await elsewhere.add_to_person(ORGANISATION, "per-anne", records=(phone,))
    found = await store.person(ORGANISATION, "per-anne")
    assert found is not None
    assert (found.version, found.records[-1]) == (3, phone)
    # One by each store: `elsewhere` read version 2 to add to it, `store` the version 3 written there.
    assert len(decoded) == 2
    assert await store.person(ORGANISATION, "per-anne") is found


async def test_a_person_this_store_erases_is_no_longer_kept_decoded_with_their_details(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoIdentityStore(database)
    await store.write_persons(ORGANISATION, [anne()], [])

    def kept_of_anne() -> list[Person]:
        return [person for key, (_document, person) in store._decoded.items() if key == (ORGANISATION, "per-anne")]

    current = await store.person(ORGANISATION, "per-anne")
    assert current is not None
    assert [person.records for person in kept_of_anne()] == [anne().records]
    erased = replace(current, status=PersonStatus.ERASED, identifiers=frozenset(), records=())
    assert await store.replace_person(erased, expected_version=current.version)
    assert all(not person.records for person in kept_of_anne())
