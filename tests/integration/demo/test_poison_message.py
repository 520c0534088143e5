"""A message no attempt can handle goes to its dead-letter topic within a minute, while the events around it keep
flowing to the profiles."""

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from demo.traffic import send_steadily, upstream_events
from infra.platform.isolated import isolated_platform
from infra.platform.kafka_state import pipeline_state
from services.profile.adapters.mongo import FACT_LOG
from shared.kafka import DLQ_ATTEMPTS, DLQ_REASON
from shared.mongo import Document
from shared.settings import ServiceSettings
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore
from tests.integration.demo.poison import NEWER_TYPE, publish_poison, wait_for_dead_letter

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

EVENTS = 300
OFFERED_PER_SECOND = 150


async def test_a_poison_message_is_dead_lettered_within_a_minute_while_the_events_around_it_are_profiled(
    settings: ServiceSettings, database: AsyncDatabase[Document], tmp_path: Path
) -> None:
    organisation_id = f"org-{uuid.uuid4().hex[:8]}"
    token = (await TokenStore(database[TOKENS_COLLECTION]).issue(organisation_id, {Scope.EVENTS_WRITE}, "test")).token
    events = upstream_events(EVENTS, organisation_id=organisation_id, patrons=100)
    async with isolated_platform(
        tmp_path, settings.kafka_bootstrap, settings.mongo_url, database=settings.mongo_database
    ) as platform:
        sending = asyncio.create_task(
            send_steadily(events, platform.url("ingest"), token, per_second=OFFERED_PER_SECOND)
        )
        await asyncio.sleep(0.5)
        poison_id = await publish_poison(settings.kafka_bootstrap, platform.namespace, organisation_id)
        dead = await wait_for_dead_letter(
            settings.kafka_bootstrap, platform.namespace, "parterre-identity", poison_id, deadline_seconds=60
        )
        sent = await sending
        profiled = await _wait_until_profiled(database, organisation_id, sent.accepted, deadline_seconds=180)
        groups = await pipeline_state(settings.kafka_bootstrap, platform.namespace)

    assert dead is not None, "the poison message did not reach identity's dead-letter topic within 60 s"
    assert int(dead.headers[DLQ_ATTEMPTS]) <= 3
    assert NEWER_TYPE in dead.headers[DLQ_REASON]
    assert sent.accepted == EVENTS
    # The reconciliation: everything ingest accepted was profiled; the poison alone was set aside.
    assert profiled == sent.accepted
    assert {group.group_id.removeprefix(platform.namespace): group.dead_letters for group in groups} == {
        "parterre-identity": 1,
        "parterre-profile": 0,
        "parterre-notify-changes": 0,
        "parterre-notify-triggers": 0,
    }


async def _wait_until_profiled(
    database: AsyncDatabase[Document], organisation_id: str, expected: int, deadline_seconds: float
) -> int:
    started = time.monotonic()
    while True:
        profiled = await database[FACT_LOG].count_documents(
            {"organisation_id": organisation_id, "number": {"$exists": True}}
        )
        if profiled >= expected or time.monotonic() - started > deadline_seconds:
            return profiled
        await asyncio.sleep(1)
