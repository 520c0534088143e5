"""Consent checked at send time, erasure, the frequency cap and restarts, on real Kafka, store and receivers."""

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pymongo.errors import AutoReconnect

from services.notify.ports import AttemptRecord, Delivery, DeliveryStatus, NotifyStore
from shared.events import parse_event
from shared.events.common import ConsentPurpose
from shared.kafka import OutgoingRecord
from shared.topics import NOTIFY_DELIVERIES
from tests.integration.kafka_support import TopicTail
from tests.integration.notify.receivers import Receiver, Reply, serving
from tests.integration.notify.support import NotifyHarness, api, context_of, running_notify, subscribe
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

THROTTLED = Reply(503, {"Retry-After": "1"})


async def _only_delivery(app: FastAPI, harness: NotifyHarness) -> Delivery:
    [delivery] = await context_of(app).deps.store.deliveries(
        harness.organisation_id, subscription_id=None, status=None, limit=10
    )
    return delivery


def _store_gone_before_the_delivery_moves_on(app: FastAPI, status: DeliveryStatus) -> list[str]:
    """Makes the store go away once, as the first delivery to be moved on to `status` is: after its attempt's answer
    was recorded. Returns the list that names it then."""
    store = context_of(app).deps.store
    move_on = store.update_delivery
    broken_off: list[str] = []

    async def store_gone_once(delivery_id: str, changes: Mapping[str, Any]) -> None:
        if not broken_off and changes.get("status") is status:
            broken_off.append(delivery_id)
            raise AutoReconnect("the store went away once the receiver's answer was recorded")
        await move_on(delivery_id, changes)

    store.update_delivery = store_gone_once  # type: ignore[method-assign]
    return broken_off


async def _has_status(app: FastAPI, harness: NotifyHarness, status: DeliveryStatus) -> bool:
    return (await _only_delivery(app, harness)).status is status


async def test_a_consent_withdrawn_while_a_message_waits_for_its_retry_blocks_it(harness: NotifyHarness) -> None:
    receiver = Receiver([THROTTLED])
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        store = context_of(app).deps.store
        await subscribe(client, receiver.url)
        await harness.publish_changes(harness.consent("consent-1", "per_elise", 1, status="granted"))
        assert await eventually(lambda: _contact_version(app, harness, 1))
        await harness.publish_triggers(harness.trigger("fired-consent"))
        assert await eventually(lambda: len(receiver.received) == 1)
        await harness.publish_changes(harness.consent("consent-2", "per_elise", 2, status="withdrawn"))
        assert await eventually(lambda: _has_status(app, harness, DeliveryStatus.SUPPRESSED))
        await asyncio.sleep(1.2)
        delivery = await _only_delivery(app, harness)
        metrics = (await client.get("/metrics")).text
        contact = await store.contact(harness.organisation_id, "per_elise")
    assert len(receiver.received) == 1, "the retry due after the withdrawal was not sent"
    assert receiver.received[0].json()["data"]["language"] == "fr", "the person's preference, not the trigger's en"
    assert delivery.last_error == "consent_withdrawn"
    assert contact is not None
    assert contact.consent(ConsentPurpose.MARKETING_EMAIL).status == "withdrawn"
    assert (
        f'parterre_notify_suppressed_total{{organisation="{harness.organisation_id}",reason="consent_withdrawn"}} 1.0'
        in metrics
    )


async def _contact_version(app: FastAPI, harness: NotifyHarness, version: int) -> bool:
    contact = await context_of(app).deps.store.contact(harness.organisation_id, "per_elise")
    return contact is not None and contact.profile_version >= version


async def test_an_erasure_cancels_what_was_still_to_be_sent_and_forgets_the_person(harness: NotifyHarness) -> None:
    receiver = Receiver([THROTTLED])
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        store = context_of(app).deps.store
        await subscribe(client, receiver.url)
        await harness.publish_changes(harness.consent("consent-1", "per_elise", 1, status="granted"))
        await harness.publish_triggers(harness.trigger("fired-erased"))
        assert await eventually(lambda: len(receiver.received) == 1)
        await harness.publish_changes(harness.erased("erased-1", "per_elise"))
        assert await eventually(lambda: _has_status(app, harness, DeliveryStatus.CANCELLED))
        await asyncio.sleep(1.2)
        delivery = await _only_delivery(app, harness)
        await harness.publish_triggers(harness.trigger("fired-after-erasure"))
        await asyncio.sleep(0.5)
        deliveries = await store.deliveries(harness.organisation_id, subscription_id=None, status=None, limit=10)
        contact = await store.contact(harness.organisation_id, "per_elise")
    assert len(receiver.received) == 1
    assert delivery.person_id is None
    assert delivery.data == {}
    assert contact is None
    assert len(deliveries) == 1, "nothing is queued for an erased person"


async def test_a_receiver_s_answer_quoting_a_person_erased_while_it_was_awaited_is_not_kept(
    harness: NotifyHarness,
) -> None:
    quoting = Reply(
        400, body=b"per_elise@example.com looks fake or invalid, please enter a real email address", delay=1.0
    )
    receiver = Receiver([quoting])
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        store = context_of(app).deps.store
        await subscribe(client, receiver.url)
        await harness.publish_changes(harness.consent("consent-1", "per_elise", 1, status="granted"))
        await harness.publish_triggers(harness.trigger("fired-quoted"))
        assert await eventually(lambda: len(receiver.received) == 1)
        await harness.publish_changes(harness.erased("erased-1", "per_elise"))
        assert await eventually(lambda: store.is_erased(harness.organisation_id, "per_elise"))
        delivery = await _only_delivery(app, harness)

        async def answered() -> bool:
            attempt = await store.attempt(f"{delivery.delivery_id}_1")
            return attempt is not None and attempt.finished_at is not None

        assert await eventually(answered, deadline_seconds=10)
        attempt = await store.attempt(f"{delivery.delivery_id}_1")
        delivery = await _only_delivery(app, harness)
    assert attempt is not None
    assert delivery.status is DeliveryStatus.CANCELLED
    assert attempt.status_code == 400
    assert "per_elise" not in str(attempt.error), attempt.error
    assert "per_elise" not in str(delivery.last_error), delivery.last_error


async def test_a_restart_in_the_middle_of_retries_loses_nothing(harness: NotifyHarness) -> None:
    receiver = Receiver([THROTTLED])
    async with serving(receiver):
        async with running_notify(harness) as app, api(app, harness.organisation_id) as client:
            await subscribe(client, receiver.url)
            await harness.publish_triggers(harness.trigger("fired-restart"))
            assert await eventually(lambda: len(receiver.received) == 1)
            pending = await _only_delivery(app, harness)
        async with running_notify(harness) as restarted:
            assert await eventually(lambda: _has_status(restarted, harness, DeliveryStatus.SUCCEEDED))
            delivered = await _only_delivery(restarted, harness)
            await asyncio.sleep(0.3)
    assert pending.status is DeliveryStatus.PENDING
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert delivered.attempts == 2


async def test_an_attempt_the_store_broke_off_is_made_again_at_once_not_a_lease_later(harness: NotifyHarness) -> None:
    receiver = Receiver()
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        store = context_of(app).deps.store
        record_outcome = store.finish_attempt
        broken_off: list[str] = []

        async def store_gone_once(record: AttemptRecord) -> None:
            if not broken_off:
                broken_off.append(record.attempt_id)
                raise AutoReconnect("the store went away while the outcome was recorded")
            await record_outcome(record)

        store.finish_attempt = store_gone_once  # type: ignore[method-assign]
        await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-store-gone"))
        # The attempt made again at once may already have arrived too.
        assert await eventually(lambda: len(receiver.received) >= 1)
        # Well within the attempt lease, after which any worker would take the attempt over.
        assert await eventually(lambda: _has_status(app, harness, DeliveryStatus.SUCCEEDED), deadline_seconds=15)
        delivered = await _only_delivery(app, harness)
        first = await store.attempt(broken_off[0])
    assert harness.settings.notify_attempt_lease_seconds >= 60
    assert first is not None
    assert first.outcome == "interrupted"
    assert delivered.attempts == 2
    assert len(receiver.received) == 2, "the receiver answered the first attempt; only the store did not hear it"
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]


async def test_an_answer_recorded_before_the_delivery_moved_on_stands_and_the_message_is_not_sent_again(
    harness: NotifyHarness,
) -> None:
    receiver = Receiver()
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        broken_off = _store_gone_before_the_delivery_moves_on(app, DeliveryStatus.SUCCEEDED)
        await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-moved-on-late"))
        assert await eventually(lambda: len(receiver.received) >= 1)
        assert await eventually(lambda: _has_status(app, harness, DeliveryStatus.SUCCEEDED), deadline_seconds=15)
        await asyncio.sleep(0.5)
        delivered = await _only_delivery(app, harness)
    assert broken_off
    assert len(receiver.received) == 1, "the receiver took the message; only the delivery had not moved on"
    assert delivered.attempts == 1
    assert delivered.last_status_code == 200


async def test_a_retry_recorded_before_the_delivery_moved_on_waits_as_long_as_the_receiver_asked(
    harness: NotifyHarness,
) -> None:
    receiver = Receiver([Reply(429, {"Retry-After": "3600"})])
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        broken_off = _store_gone_before_the_delivery_moves_on(app, DeliveryStatus.PENDING)
        await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-retry-after-late"))
        assert await eventually(lambda: len(receiver.received) >= 1)
        assert await eventually(lambda: bool(broken_off))
        await asyncio.sleep(1.5)
        waiting = await _only_delivery(app, harness)
    assert len(receiver.received) == 1, "the receiver asked for an hour's pause"
    assert waiting.status is DeliveryStatus.PENDING
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at > datetime.now(UTC) + timedelta(minutes=50)


async def test_a_delivery_given_up_on_during_its_attempt_and_replayed_is_attempted_again(
    harness: NotifyHarness,
) -> None:
    receiver = Receiver([Reply(400, delay=1.0)])
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        store = context_of(app).deps.store
        await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-given-up"))
        assert await eventually(lambda: len(receiver.received) == 1)
        # While the receiver thinks, the delivery is given up on elsewhere (its queue full, say).
        delivery = await _only_delivery(app, harness)
        await store.update_delivery(delivery.delivery_id, {"status": DeliveryStatus.DEAD, "last_error": "queue_full"})
        await asyncio.sleep(1.5)
        replayed = await client.post(f"/v1/deliveries/{delivery.delivery_id}/replay")
        assert await eventually(lambda: _has_status(app, harness, DeliveryStatus.SUCCEEDED), deadline_seconds=15)
    assert replayed.status_code == 202
    assert len(receiver.received) == 2, "the replay is sent, not ended by the answer to the attempt before it"


async def test_the_frequency_cap_holds_back_the_fourth_marketing_message_of_the_week(harness: NotifyHarness) -> None:
    receiver = Receiver()
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        await subscribe(client, receiver.url)
        first = harness.trigger("fired-a")
        await harness.publish_triggers(first, first, *(harness.trigger(f"fired-{n}") for n in "bcd"))
        assert await eventually(lambda: len(receiver.received) == 3)
        suppressed: list[dict[str, Any]] = []

        async def one_suppressed() -> bool:
            suppressed[:] = (await client.get("/v1/deliveries", params={"status": "suppressed"})).json()["items"]
            return len(suppressed) == 1

        assert await eventually(one_suppressed)
        await asyncio.sleep(0.3)
    assert len(receiver.received) == 3, "the redelivered first trigger counted once and was sent once"
    assert suppressed[0]["last_error"] == "frequency_cap"


async def test_an_outcome_stored_but_not_published_when_the_instance_died_is_published_after_the_restart(
    harness: NotifyHarness,
) -> None:
    harness.settings = harness.settings.model_copy(update={"notify_attempt_lease_seconds": 0.5})
    outcomes = await TopicTail(
        harness.settings.kafka_bootstrap, NOTIFY_DELIVERIES.name, harness.organisation_id
    ).start()
    receiver = Receiver()
    try:
        async with serving(receiver):
            async with running_notify(harness) as app, api(app, harness.organisation_id) as client:

                async def died_before_publishing(record: OutgoingRecord) -> None:
                    raise RuntimeError("the instance died between storing the outcome and publishing it")

                context_of(app).publisher.publish = died_before_publishing  # type: ignore[method-assign]
                await subscribe(client, receiver.url)
                await harness.publish_triggers(harness.trigger("fired-before-crash"))
                assert await eventually(lambda: len(receiver.received) == 1)
                assert await eventually(lambda: _has_status(app, harness, DeliveryStatus.SUCCEEDED))
                delivery = await _only_delivery(app, harness)
                await asyncio.sleep(1.0)
            nothing_before_restart = await outcomes.read_quietly(0.2)
            async with running_notify(harness) as restarted:
                events = await outcomes.read(1)
                store = context_of(restarted).deps.store
                far_future = datetime.now(UTC) + timedelta(days=1)
                assert await eventually(lambda: _outbox_empty(store, far_future))
                duplicates = await outcomes.read_quietly(0.5)
    finally:
        await outcomes.stop()
    assert nothing_before_restart == []
    [(envelope, outcome)] = [parse_event(record.value) for record in [*events, *duplicates]]
    assert envelope.type == "parterre.delivery.succeeded.v1"
    assert envelope.id == f"{delivery.delivery_id}_1"
    assert outcome.model_dump()["status_code"] == 200
    assert len(receiver.received) == 1, "the delivery itself was not made again"


async def _outbox_empty(store: NotifyStore, before: datetime) -> bool:
    return await store.unannounced(before, 10) == []
