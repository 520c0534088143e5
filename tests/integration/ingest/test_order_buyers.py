"""Shop orders' buyers on the real store: the deliveries of one order arriving together each find what they need."""

import asyncio

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.ingest.adapters.mongo import MongoOrderBuyers
from shared.events import Envelope, PersonRef
from shared.mongo import Document
from tests.integration.ingest.test_events_api import ticket_event

pytestmark = [pytest.mark.mongo]

BUYER = PersonRef(source="boutique", external_id="191167", email="john@example.com")


async def test_deliveries_of_one_order_remembered_at_the_same_moment_all_succeed(
    database: AsyncDatabase[Document],
) -> None:
    # `orders/create` and `orders/paid` of one order, sent again together after both were turned away.
    orders = MongoOrderBuyers(database["order_buyers"])

    waiting = await asyncio.gather(*(orders.remember("theatre", "boutique", "5800", BUYER) for _ in range(20)))

    assert waiting == [[]] * 20
    assert await orders.buyer("theatre", "boutique", "5800") == BUYER


async def test_refunds_of_one_unseen_order_arriving_at_the_same_moment_are_each_kept_waiting(
    database: AsyncDatabase[Document],
) -> None:
    orders = MongoOrderBuyers(database["order_buyers"])
    refunds = [Envelope.model_validate({**ticket_event(f"r-{n}"), "organisationid": "theatre"}) for n in range(5)]

    found = await asyncio.gather(*(orders.wait_for_order("theatre", "boutique", "5801", refund) for refund in refunds))

    assert found == [None] * 5
    assert await orders.remember("theatre", "boutique", "5801", BUYER)
