"""The publication ledger on the real store: each id published once, none lost when a publisher fails or dies."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect

from services.ingest.adapters.mongo import MongoPublicationLedger
from shared.mongo import Document

pytestmark = [pytest.mark.mongo]


def ledger(
    database: AsyncDatabase[Document], abandoned_after: timedelta = timedelta(minutes=2)
) -> MongoPublicationLedger:
    return MongoPublicationLedger(database["claims"], database["published"], abandoned_after=abandoned_after)


async def claimed(publications: MongoPublicationLedger, event_ids: list[str]) -> set[str]:
    return set((await publications.claim("theatre-du-nord", event_ids)).event_ids)


async def test_new_ids_are_claimed_once_and_confirmed_ids_are_duplicates(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)

    first = await publications.claim("theatre-du-nord", ["a", "b"])
    await publications.confirm("theatre-du-nord", first)
    again = await claimed(publications, ["a", "b", "c"])

    assert first.event_ids == {"a", "b"}
    assert again == {"c"}


async def test_a_batch_is_confirmed_with_one_document_whatever_its_size(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)
    ids = [f"event-{number}" for number in range(500)]

    await publications.confirm("theatre-du-nord", await publications.claim("theatre-du-nord", ids))

    assert await database["published"].count_documents({}) == 1
    assert await claimed(ledger(database, abandoned_after=timedelta(0)), ids) == set()


async def test_the_same_id_in_two_organisations_is_two_events(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)

    assert (await publications.claim("theatre-du-nord", ["a"])).event_ids == {"a"}
    assert (await publications.claim("festival-sud", ["a"])).event_ids == {"a"}


async def test_a_claim_in_flight_elsewhere_is_left_to_its_publisher(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)

    assert await claimed(publications, ["a"]) == {"a"}
    again = await publications.claim("theatre-du-nord", ["a", "b"])

    assert again.event_ids == {"b"}
    # Not a duplicate yet: its publisher has not said Kafka has it, and may have died.
    assert again.in_flight == {"a"}


async def test_confirmed_ids_are_not_in_flight(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)
    await publications.confirm("theatre-du-nord", await publications.claim("theatre-du-nord", ["a"]))

    again = await publications.claim("theatre-du-nord", ["a"])

    assert (again.event_ids, again.in_flight) == (frozenset(), frozenset())


async def test_a_released_claim_can_be_claimed_again(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)
    claim = await publications.claim("theatre-du-nord", ["a", "b"])

    await publications.release("theatre-du-nord", claim)

    assert await claimed(publications, ["a", "b"]) == {"a", "b"}


async def test_releasing_a_claim_leaves_the_ids_another_batch_holds(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)
    first = await publications.claim("theatre-du-nord", ["a"])
    second = await publications.claim("theatre-du-nord", ["a", "b"])

    await publications.release("theatre-du-nord", second)

    assert second.event_ids == {"b"}
    assert await claimed(publications, ["a", "b"]) == {"b"}
    assert first.event_ids == {"a"}


async def test_a_claim_whose_publisher_died_is_taken_over_by_exactly_one_later_claimer(
    database: AsyncDatabase[Document],
) -> None:
    dead = ledger(database)
    await dead.confirm("theatre-du-nord", await dead.claim("theatre-du-nord", ["b"]))
    await dead.claim("theatre-du-nord", ["a"])

    later = ledger(database, abandoned_after=timedelta(0))
    taken = await later.claim("theatre-du-nord", ["a", "b"])
    concurrent = await claimed(ledger(database, abandoned_after=timedelta(minutes=2)), ["a"])
    await later.confirm("theatre-du-nord", taken)

    assert taken.event_ids == {"a"}
    # The first taker holds it now, in a batch of its own time.
    assert concurrent == set()
    assert await claimed(ledger(database, abandoned_after=timedelta(0)), ["a", "b"]) == set()


async def test_claims_confirmed_one_by_one_before_batches_stay_published(database: AsyncDatabase[Document]) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=30)
    await database["claims"].insert_many(
        [
            {"_id": "theatre-du-nord/old-published", "organisation_id": "theatre-du-nord", "claimed_at": long_ago},
            {"_id": "theatre-du-nord/old-abandoned", "organisation_id": "theatre-du-nord", "claimed_at": long_ago},
        ]
    )
    await database["published"].insert_one({"_id": "theatre-du-nord/old-published", "published_at": long_ago})

    taken = await ledger(database).claim("theatre-du-nord", ["old-published", "old-abandoned", "new"])

    assert taken.event_ids == {"old-abandoned", "new"}


class StoreAwayAMoment:
    """A collection whose first inserts fail as the store's restart makes them fail."""

    def __init__(self, inner: Any, failures: int) -> None:
        self._inner = inner
        self.failures_left = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def insert_many(self, documents: Any, **options: Any) -> Any:
        if self.failures_left > 0:
            self.failures_left -= 1
            raise AutoReconnect("127.0.0.1:27017: connection closed")
        return await self._inner.insert_many(documents, **options)


async def test_a_confirmation_waits_out_a_store_away_for_a_moment(database: AsyncDatabase[Document]) -> None:
    publications = MongoPublicationLedger(
        database["claims"],
        cast(AsyncCollection[Document], StoreAwayAMoment(database["published"], failures=3)),
        abandoned_after=timedelta(seconds=4),
    )
    claim = await publications.claim("theatre-du-nord", ["a"])

    await publications.confirm("theatre-du-nord", claim)

    again = await publications.claim("theatre-du-nord", ["a"])
    assert (again.event_ids, again.in_flight) == (frozenset(), frozenset())


async def test_a_longer_absence_is_answered_before_claims_could_be_taken_over_and_confirmed_in_the_background(
    database: AsyncDatabase[Document],
) -> None:
    store = StoreAwayAMoment(database["published"], failures=8)
    publications = MongoPublicationLedger(
        database["claims"], cast(AsyncCollection[Document], store), abandoned_after=timedelta(seconds=1)
    )
    claim = await publications.claim("theatre-du-nord", ["a"])

    await publications.confirm("theatre-du-nord", claim)
    # Answered while the store still refused: the request did not wait for it to come back.
    assert store.failures_left > 0
    # Read by a ledger that would take the claim over only after minutes, the background's work is seen alone.
    patient = ledger(database)
    assert (await patient.claim("theatre-du-nord", ["a"])).in_flight == {"a"}

    for _ in range(100):
        again = await patient.claim("theatre-du-nord", ["a"])
        if not again.in_flight:
            break
        await asyncio.sleep(0.1)
    assert (again.event_ids, again.in_flight) == (frozenset(), frozenset())


async def test_an_id_held_by_another_source_s_event_is_reused_whatever_the_state_of_its_claim(
    database: AsyncDatabase[Document],
) -> None:
    publications = ledger(database, abandoned_after=timedelta(0))
    confirmed = await publications.claim("theatre-du-nord", ["a"], sources={"a": "/box-office"})
    await publications.confirm("theatre-du-nord", confirmed)
    # Unconfirmed, and old enough to be taken for abandoned by its own source.
    await publications.claim("theatre-du-nord", ["b"], sources={"b": "/box-office"})
    # Claimed before claims named their source: taken for the same source's.
    await publications.claim("theatre-du-nord", ["c"])

    shop = await publications.claim("theatre-du-nord", ["a", "b", "c", "d"], sources=dict.fromkeys("abcd", "/shop"))

    assert shop.reused == {"a": "/box-office", "b": "/box-office"}
    assert shop.event_ids == {"c", "d"}
    assert shop.in_flight == frozenset()
    again = await publications.claim("theatre-du-nord", ["a", "b"], sources={"a": "/box-office", "b": "/box-office"})
    assert again.event_ids == {"b"}
    assert not again.reused
