"""When Kafka cannot be reached, ingest answers 503 with Retry-After and never 202 for an event it did not store."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo.errors import AutoReconnect

from services.ingest.bootstrap import create_app
from services.ingest.settings import IngestSettings
from shared.events import Envelope
from shared.settings import ServiceSettings
from shared.tokens import Scope
from shared.topic_admin import ensure_topics
from shared.topics import AUDIENCE_FACTS, all_topic_partitions
from tests.integration.ingest.test_events_api import ticket_event
from tests.integration.kafka_support import TopicTail

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[object]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    from infra.local.stack import LocalStack, StackConfig

    stack = LocalStack(StackConfig(root=tmp_path / "stack", kafka_port=19292, controller_port=19293, mongo_port=27317))
    stack.up()
    yield stack
    stack.down()


async def test_events_sent_while_kafka_is_down_get_503_and_can_be_sent_again(
    settings: ServiceSettings, own_kafka: object
) -> None:
    senders_before = _kafka_senders_running()
    bootstrap = "127.0.0.1:19292"
    await ensure_topics(bootstrap, all_topic_partitions())
    app = create_app(
        IngestSettings(
            **{
                **settings.model_dump(),
                "kafka_bootstrap": bootstrap,
                "publish_timeout_seconds": 2,
                "shutdown_timeout_seconds": 2,
            }
        )
    )
    async with app.router.lifespan_context(app):
        issued = await app.state.runtime.tokens.issue("theatre-du-nord", {Scope.EVENTS_WRITE}, "tests")
        headers = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            stored = await client.post("/v1/events", content=json.dumps(ticket_event("before")), headers=headers)
            # The service's broker has a send of its own under way too (its producer knows the topic already).
            broker, topic = app.state.runtime.broker, settings.kafka_namespace + AUDIENCE_FACTS.name
            await broker.publish(b"known", topic)
            own_kafka.down()  # type: ignore[attr-defined]
            await broker.publish(b"unacknowledged", topic, no_confirm=True)
            refused = await client.post("/v1/events", content=json.dumps(ticket_event("during")), headers=headers)
            ledger = app.state.runtime.extras["ingest"].ledger
            reclaimable = await ledger.claim("theatre-du-nord", ["during"])
        await app.state.runtime.mongo.drop_database(settings.mongo_database)

    assert stored.status_code == 202
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert set(refused.json()["detail"]["message"]) == {"en", "fr"}
    # The refused event's claim was released, so sending it again will publish it.
    assert reclaimable.event_ids == {"during"}
    # The stop gave the unacknowledged send up: nothing keeps retrying the stopped broker afterwards.
    assert _kafka_senders_running() <= senders_before


def _kafka_senders_running() -> set[asyncio.Task[Any]]:
    return {
        task
        for task in asyncio.all_tasks()
        if not task.done() and getattr(task.get_coro(), "__qualname__", "") == "Sender._sender_routine"
    }


async def test_events_kafka_acknowledges_near_the_deadline_are_answered_as_accepted_however_long_their_confirmation(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(settings.kafka_bootstrap, all_topic_partitions())
    app = create_app(IngestSettings(**{**settings.model_dump(), "publish_timeout_seconds": 1}))
    async with app.router.lifespan_context(app):
        issued = await app.state.runtime.tokens.issue("theatre-du-nord", {Scope.EVENTS_WRITE}, "tests")
        context = app.state.runtime.extras["ingest"]
        publish, confirm = context.sink.publish, context.ledger.confirm

        async def acknowledged_late(envelopes: Any) -> None:
            # Kafka has them at once, its acknowledgement takes most of the second allowed (a broker restarting).
            await publish(envelopes)
            await asyncio.sleep(0.7)

        async def confirmed_slowly(organisation_id: str, claim: Any) -> None:
            await asyncio.sleep(0.6)
            await confirm(organisation_id, claim)

        monkeypatch.setattr(context.sink, "publish", acknowledged_late)
        monkeypatch.setattr(context.ledger, "confirm", confirmed_slowly)
        headers = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            answer = await client.post("/v1/events", content=json.dumps(ticket_event("late-ack")), headers=headers)
            again = await client.post("/v1/events", content=json.dumps(ticket_event("late-ack")), headers=headers)
        await app.state.runtime.mongo.drop_database(settings.mongo_database)

    # Kafka had the event: the answer says so, and sending it again is recognised as a duplicate.
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 1
    assert again.status_code == 202
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)


async def test_events_published_while_the_store_fails_their_confirmation_are_answered_as_accepted(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(settings.kafka_bootstrap, all_topic_partitions())
    app = create_app(IngestSettings(**settings.model_dump()))
    async with app.router.lifespan_context(app):
        issued = await app.state.runtime.tokens.issue("theatre-du-nord", {Scope.EVENTS_WRITE}, "tests")
        context = app.state.runtime.extras["ingest"]

        async def store_gone(organisation_id: str, claim: Any) -> None:
            # The store went away (restarting) between the claim and its confirmation.
            raise AutoReconnect("127.0.0.1:27017: connection closed")

        monkeypatch.setattr(context.ledger, "confirm", store_gone)
        headers = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            answer = await client.post("/v1/events", content=json.dumps(ticket_event("unconfirmed")), headers=headers)
            again = await client.post("/v1/events", content=json.dumps(ticket_event("unconfirmed")), headers=headers)
        await app.state.runtime.mongo.drop_database(settings.mongo_database)

    # Kafka had the event: the answer says so. Its claim unconfirmed, a resend is asked to wait (the claim reads as
    # in flight), not told the event is new again.
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 1
    assert again.status_code == 503


async def test_events_whose_publisher_died_before_kafka_had_them_are_never_answered_as_duplicates(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, unique_name: str
) -> None:
    await ensure_topics(settings.kafka_bootstrap, all_topic_partitions())
    facts = await TopicTail(settings.kafka_bootstrap, AUDIENCE_FACTS.name, unique_name).start()
    app = create_app(
        IngestSettings(**{**settings.model_dump(), "publish_timeout_seconds": 1, "claim_abandoned_after_seconds": 2})
    )
    async with app.router.lifespan_context(app):
        issued = await app.state.runtime.tokens.issue(unique_name, {Scope.EVENTS_WRITE}, "tests")
        context = app.state.runtime.extras["ingest"]
        publish, release = context.sink.publish, context.ledger.release

        async def died_before_kafka_had_them(envelopes: Any) -> None:
            raise KafkaConnectionError("the process is killed here")

        async def nothing_released(organisation_id: str, claim: Any) -> None:
            """A process killed with SIGKILL releases nothing."""

        monkeypatch.setattr(context.sink, "publish", died_before_kafka_had_them)
        monkeypatch.setattr(context.ledger, "release", nothing_released)
        headers = {"Authorization": f"Bearer {issued.token}", "Content-Type": "application/json"}
        event = json.dumps(ticket_event("claimed-then-lost"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            lost = await client.post("/v1/events", content=event, headers=headers)
            monkeypatch.setattr(context.sink, "publish", publish)
            monkeypatch.setattr(context.ledger, "release", release)
            # Sent again at once: the claim left behind might still be a live publisher's.
            soon = await client.post("/v1/events", content=event, headers=headers)
            await asyncio.sleep(2.1)
            later = await client.post("/v1/events", content=event, headers=headers)
        landed = await facts.read(expected=1)
        await facts.stop()
        await app.state.runtime.mongo.drop_database(settings.mongo_database)

    assert lost.status_code == 503
    assert soon.status_code == 503, soon.text
    assert soon.json()["detail"]["code"] == "unavailable"
    assert later.status_code == 202, later.text
    assert (later.json()["accepted"], later.json()["duplicates"]) == (1, 0)
    assert [Envelope.from_json_bytes(record.value).id for record in landed] == ["claimed-then-lost"]
