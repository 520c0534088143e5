"""The publication ledger on the real store: each id published once, none lost when a publisher fails or dies."""

from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.ingest.adapters.mongo import MongoPublicationLedger
from shared.mongo import Document

pytestmark = [pytest.mark.mongo]


def ledger(
    database: AsyncDatabase[Document], abandoned_after: timedelta = timedelta(minutes=2)
) -> MongoPublicationLedger:
    return MongoPublicationLedger(database["claims"], database["published"], abandoned_after=abandoned_after)


async def test_new_ids_are_claimed_once_and_confirmed_ids_are_duplicates(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)

    first = await publications.claim("theatre-du-nord", ["a", "b"])
    await publications.confirm("theatre-du-nord", ["a", "b"])
    again = await publications.claim("theatre-du-nord", ["a", "b", "c"])

    assert first == {"a", "b"}
    assert again == {"c"}


async def test_the_same_id_in_two_organisations_is_two_events(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)

    assert await publications.claim("theatre-du-nord", ["a"]) == {"a"}
    assert await publications.claim("festival-sud", ["a"]) == {"a"}


async def test_a_claim_in_flight_elsewhere_is_left_to_its_publisher(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)

    assert await publications.claim("theatre-du-nord", ["a"]) == {"a"}
    assert await publications.claim("theatre-du-nord", ["a"]) == set()


async def test_a_released_claim_can_be_claimed_again(database: AsyncDatabase[Document]) -> None:
    publications = ledger(database)
    await publications.claim("theatre-du-nord", ["a", "b"])

    await publications.release("theatre-du-nord", ["a", "b"])

    assert await publications.claim("theatre-du-nord", ["a", "b"]) == {"a", "b"}


async def test_a_claim_whose_publisher_died_is_taken_over_by_exactly_one_later_claimer(
    database: AsyncDatabase[Document],
) -> None:
    dead = ledger(database)
    await dead.claim("theatre-du-nord", ["a", "b"])
    await dead.confirm("theatre-du-nord", ["b"])

    later = ledger(database, abandoned_after=timedelta(0))
    taken = await later.claim("theatre-du-nord", ["a", "b"])
    concurrent = await ledger(database, abandoned_after=timedelta(minutes=2)).claim("theatre-du-nord", ["a"])

    assert taken == {"a"}
    assert concurrent == set()
