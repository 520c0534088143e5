"""A running ingest app on the real Kafka and store, with a token and sources to call it with."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from services.ingest.bootstrap import create_app
from services.ingest.context import IngestContext
from services.ingest.domain.sources import Source, SourceKind, hash_source_key, mint_source_key
from services.ingest.settings import IngestSettings
from shared.settings import ServiceSettings
from shared.tokens import Scope
from shared.topic_admin import ensure_topics
from shared.topics import AUDIENCE_FACTS, all_topic_partitions
from tests.integration.kafka_support import TopicTail

SHOPIFY_SECRET = "shpss_test_secret_for_parterre"


@dataclass
class IngestHarness:
    app: FastAPI
    client: httpx.AsyncClient
    organisation_id: str
    token: str
    mailchimp_key: str

    @property
    def context(self) -> IngestContext:
        context = self.app.state.runtime.extras["ingest"]
        assert isinstance(context, IngestContext)
        return context

    def authorised(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def ingest(settings: ServiceSettings, unique_name: str) -> AsyncIterator[IngestHarness]:
    await ensure_topics(settings.kafka_bootstrap, all_topic_partitions())
    ingest_settings = IngestSettings(**settings.model_dump(), max_batch_events=500)
    app = create_app(ingest_settings)
    organisation_id = unique_name
    async with app.router.lifespan_context(app):
        issued = await app.state.runtime.tokens.issue(organisation_id, {Scope.EVENTS_WRITE}, "tests")
        context = app.state.runtime.extras["ingest"]
        mailchimp_key = mint_source_key()
        await context.sources.create(
            Source(f"{unique_name}-shopify", organisation_id, SourceKind.SHOPIFY, signing_secrets=(SHOPIFY_SECRET,))
        )
        await context.sources.create(
            Source(
                f"{unique_name}-mailchimp",
                organisation_id,
                SourceKind.MAILCHIMP,
                key_hashes=(hash_source_key(mailchimp_key),),
            )
        )
        await context.sources.create(Source(f"{unique_name}-boxoffice", organisation_id, SourceKind.BOXOFFICE))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield IngestHarness(app, client, organisation_id, issued.token, mailchimp_key)
        await app.state.runtime.mongo.drop_database(settings.mongo_database)


@pytest.fixture
async def facts(settings: ServiceSettings, ingest: IngestHarness) -> AsyncIterator[TopicTail]:
    tail = await TopicTail(settings.kafka_bootstrap, AUDIENCE_FACTS.name, ingest.organisation_id).start()
    yield tail
    await tail.stop()
