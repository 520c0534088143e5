"""The notify store on the real database: what several writers at once leave behind."""

import asyncio
from datetime import UTC, datetime

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.adapters.mongo import MongoNotifyStore
from shared.mongo import Document

pytestmark = [pytest.mark.mongo]


async def test_deliveries_queued_at_once_for_one_subscription_are_all_kept(database: AsyncDatabase[Document]) -> None:
    store, now = MongoNotifyStore(database), datetime.now(UTC)
    await asyncio.gather(*(store.enqueue("sub_a", f"dlv_{n}", now, now) for n in range(40)))
    await asyncio.gather(*(store.dequeue("sub_a", f"dlv_{n}") for n in range(0, 40, 2)))
    assert sorted(entry.delivery_id for entry in await store.queue("sub_a")) == sorted(
        f"dlv_{n}" for n in range(1, 40, 2)
    )


async def test_a_persons_sends_and_opt_outs_recorded_at_once_are_all_kept(database: AsyncDatabase[Document]) -> None:
    store, now = MongoNotifyStore(database), datetime.now(UTC)
    await asyncio.gather(
        *(store.record_send("org", "per_a", f"msg_{n}", now, ()) for n in range(10)),
        *(store.record_opt_out("org", "per_a", f"purpose_{n}", now) for n in range(10)),
    )
    contact = await store.contact("org", "per_a")
    assert len(await store.sends("org", "per_a")) == 10
    assert contact is not None
    assert len(contact.opt_outs) == 10
