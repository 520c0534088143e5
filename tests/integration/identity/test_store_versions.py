"""Persons are chains of versions that several processes read and extend: an erasure must reach them all."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters.documents import person_document
from services.identity.adapters.mongo import INDEXES, PERSONS, MongoIdentityStore
from services.identity.domain.persons import Person, PersonStatus
from services.identity.domain.records import NormalisedRecord
from shared.mongo import Document, ensure_indexes, mongo_client
from tests.conftest import Servers
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
