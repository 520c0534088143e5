"""The profile service under test: its own resolutions topic and consumer group, and tails of what it publishes."""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from services.profile.bootstrap import create_app
from services.profile.context import ProfileContext
from services.profile.handlers import Clock
from services.profile.settings import ProfileSettings
from shared.events import Envelope, build_envelope, event_type, parse_event
from shared.events.identity import Match, MatchMethod, PersonResolvedV1
from shared.settings import ServiceSettings
from tests.integration.kafka_support import TopicTail, publish_envelopes


@dataclass
class ProfileHarness:
    settings: ProfileSettings
    organisation_id: str
    resolutions_topic: str
    group_id: str
    changes: TopicTail
    triggers: TopicTail
    # Persons a purchase was resolved to already: identity tells it created the person only with their first.
    known_persons: set[str] = field(default_factory=set)

    def resolved_purchase(
        self, event_id: str, person_id: str, *, bought_at: datetime, performance: Mapping[str, Any] | None = None
    ) -> Envelope:
        """A ticket purchase (for the catalog example's performance unless another is given), as identity
        publishes it once it knows the person."""
        example: dict[str, Any] = dict(event_type("parterre.ticket.purchased.v1").example)
        example["order_id"] = f"order-{event_id}"
        if performance is not None:
            example["performance"] = dict(performance)
        example["tickets"] = [{**ticket, "ticket_id": f"{event_id}-{n}"} for n, ticket in enumerate(example["tickets"])]
        data = event_type("parterre.ticket.purchased.v1").model.model_validate(example)
        original = build_envelope(
            data,
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/sources/billetterie-principale",
            id=event_id,
            time=bought_at,
        )
        method = MatchMethod.EMAIL if person_id in self.known_persons else MatchMethod.NEW
        self.known_persons.add(person_id)
        return build_envelope(
            PersonResolvedV1(original=original, person_id=person_id, match=Match(method=method, confidence=1.0)),
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/identity",
            id=f"resolved-{event_id}",
            time=bought_at,
            person_id=person_id,
        )

    async def publish(self, envelopes: list[Envelope]) -> None:
        await publish_envelopes(self.settings.kafka_bootstrap, self.resolutions_topic, envelopes)


@asynccontextmanager
async def running_profile(
    harness: ProfileHarness, *, settings: ProfileSettings | None = None, clock: Clock | None = None
) -> AsyncIterator[FastAPI]:
    app = create_app(
        settings or harness.settings,
        resolutions_topic=harness.resolutions_topic,
        group_id=harness.group_id,
        clock=clock,
    )
    async with app.router.lifespan_context(app):
        yield app


def context_of(app: FastAPI) -> ProfileContext:
    context = app.state.runtime.extras["profile"]
    assert isinstance(context, ProfileContext)
    return context


async def read_until(
    tail: TopicTail, done: Callable[[list[Envelope]], bool], deadline_seconds: float = 30
) -> list[Envelope]:
    """What `tail` receives, read until `done` holds for all of it (or the deadline passes)."""
    received: list[Envelope] = []
    loop = asyncio.get_running_loop()
    until = loop.time() + deadline_seconds
    while not done(received) and loop.time() < until:
        records: list[ConsumerRecord] = await tail.read(1, deadline_seconds=1)
        received.extend(parse_event(record.value)[0] for record in records)
    return received


def commands_reach(monkeypatch: pytest.MonkeyPatch, settings: ServiceSettings) -> None:
    """A `parterre` command run in the test reaches the test's store and Kafka, as the service under test does."""
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
