"""The profile service on real Kafka and the real store: resolved facts in, profiles and announcements out, once."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.profile.bootstrap import create_app
from services.profile.context import ProfileContext
from services.profile.settings import ProfileSettings
from shared.access import Scope
from shared.events import Envelope, build_envelope, event_type, parse_event
from shared.events.identity import Match, MatchMethod, PersonResolvedV1
from shared.kafka import record_for
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics
from shared.topics import PROFILE_CHANGES, PROFILE_TRIGGERS, all_topic_partitions
from tests.integration.kafka_support import TopicTail

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


@dataclass
class ProfileHarness:
    settings: ProfileSettings
    organisation_id: str
    resolutions_topic: str
    group_id: str
    changes: TopicTail
    triggers: TopicTail

    def resolved_purchase(self, event_id: str, person_id: str, *, bought_at: datetime) -> Envelope:
        """A ticket purchase, as identity publishes it once it knows the person."""
        example: dict[str, Any] = dict(event_type("parterre.ticket.purchased.v1").example)
        example["order_id"] = f"order-{event_id}"
        example["tickets"] = [{**ticket, "ticket_id": f"{event_id}-{n}"} for n, ticket in enumerate(example["tickets"])]
        data = event_type("parterre.ticket.purchased.v1").model.model_validate(example)
        original = build_envelope(
            data,
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/sources/billetterie-principale",
            id=event_id,
            time=bought_at,
        )
        return build_envelope(
            PersonResolvedV1(
                original=original, person_id=person_id, match=Match(method=MatchMethod.NEW, confidence=1.0)
            ),
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/identity",
            id=f"resolved-{event_id}",
            time=bought_at,
            person_id=person_id,
        )

    async def publish(self, envelopes: list[Envelope]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for envelope in envelopes:
                record = record_for(envelope)
                headers = [(name, value.encode()) for name, value in record.headers.items()]
                await producer.send_and_wait(
                    self.resolutions_topic, record.value, key=record.key.encode(), headers=headers
                )
        finally:
            await producer.stop()


@pytest.fixture
async def harness(settings: ServiceSettings, unique_name: str) -> AsyncIterator[ProfileHarness]:
    resolutions_topic = f"test.resolutions.{unique_name}"
    await ensure_topics(settings.kafka_bootstrap, {**all_topic_partitions(), resolutions_topic: 6})
    changes = await TopicTail(settings.kafka_bootstrap, PROFILE_CHANGES.name, unique_name).start()
    triggers = await TopicTail(settings.kafka_bootstrap, PROFILE_TRIGGERS.name, unique_name).start()
    yield ProfileHarness(
        ProfileSettings(**settings.model_dump()),
        unique_name,
        resolutions_topic,
        f"test-profile-{unique_name}",
        changes,
        triggers,
    )
    await changes.stop()
    await triggers.stop()


@asynccontextmanager
async def running_profile(harness: ProfileHarness) -> AsyncIterator[FastAPI]:
    app = create_app(harness.settings, resolutions_topic=harness.resolutions_topic, group_id=harness.group_id)
    async with app.router.lifespan_context(app):
        yield app


def context_of(app: FastAPI) -> ProfileContext:
    context = app.state.runtime.extras["profile"]
    assert isinstance(context, ProfileContext)
    return context


async def test_a_first_purchase_updates_the_profile_and_fires_the_welcome_once_even_when_redelivered(
    harness: ProfileHarness,
) -> None:
    bought_at = datetime.now(UTC) - timedelta(days=2)
    fact = harness.resolved_purchase("sale-1", "per_elise", bought_at=bought_at)
    async with running_profile(harness) as app:
        await harness.publish([fact])
        changes = [parse_event(record.value) for record in await harness.changes.read(1)]
        triggers = [parse_event(record.value) for record in await harness.triggers.read(1)]
        await harness.publish([fact])
        again = await harness.triggers.read(1, deadline_seconds=10)
        stored = await context_of(app).deps.store.profile(harness.organisation_id, "per_elise")
    changed_types = [envelope.type for envelope, _ in changes]
    assert changed_types[0] == "parterre.profile.changed.v1"
    first_change = changes[0][1]
    assert first_change.model_dump()["changed"]["tickets_bought"] == 2
    [(trigger_envelope, trigger)] = triggers
    assert trigger.model_dump()["rule"] == "welcome-first-purchase"
    # The redelivery republishes the same trigger event (same id), which downstream de-duplicates.
    assert [parse_event(record.value)[0].id for record in again] == [trigger_envelope.id]
    assert stored is not None
    assert (stored.applied, stored.version) == (1, 1)


async def test_a_second_purchase_counts_once_and_does_not_welcome_again(harness: ProfileHarness) -> None:
    first_at = datetime.now(UTC) - timedelta(days=5)
    async with running_profile(harness) as app:
        await harness.publish([harness.resolved_purchase("sale-1", "per_luc", bought_at=first_at)])
        assert len(await harness.triggers.read(1)) == 1
        await harness.publish([harness.resolved_purchase("sale-2", "per_luc", bought_at=first_at + timedelta(days=1))])
        # Segments entered share the topic; one `profile changed` per purchase, the second counting both.
        events = [parse_event(record.value) for record in await harness.changes.read(4)]
        [change] = [data for envelope, data in events if envelope.type == "parterre.profile.changed.v1"][-1:]
        stored = await context_of(app).deps.store.profile(harness.organisation_id, "per_luc")
        later_triggers = await harness.triggers.read_quietly(2)
        token = await app.state.runtime.tokens.issue(harness.organisation_id, {Scope.PROFILES_READ}, "tests")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://profile") as client:
            found = await client.get("/v1/profiles/per_luc", headers={"Authorization": f"Bearer {token.token}"})
            missing = await client.get("/v1/profiles/per_nobody", headers={"Authorization": f"Bearer {token.token}"})
            anonymous = await client.get("/v1/profiles/per_luc")
    assert stored is not None
    assert stored.applied == 2
    assert change.model_dump()["changed"]["tickets_bought"] == 4
    assert [
        record
        for record in later_triggers
        if parse_event(record.value)[1].model_dump()["rule"] == "welcome-first-purchase"
    ] == []
    assert found.status_code == 200, found.text
    assert found.json()["fields"]["tickets_bought"] == 4
    assert found.json()["facts_applied"] == 2
    assert missing.status_code == 404
    assert anonymous.status_code == 401
