"""Fixtures for tests against the real servers: settings pointing at them, and a fresh database per test."""

import uuid
import warnings
from collections.abc import AsyncIterator

import pytest
from aiokafka.errors import KafkaError
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import Document, mongo_client
from shared.settings import ServiceSettings
from shared.topic_admin import delete_topics_matching
from tests.conftest import Servers


@pytest.fixture
async def settings(servers: Servers) -> AsyncIterator[ServiceSettings]:
    """Settings naming a database of the test's own, dropped after it: a service a test starts writes there too,
    and databases left behind would pile up in the local store, run after run."""
    settings = ServiceSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        mongo_database=f"test_{uuid.uuid4().hex[:12]}",
        consumer_retry_backoff_seconds=0.01,
    )
    yield settings
    async with mongo_client(settings.mongo_url, app_name="parterre-tests") as client:
        await client.drop_database(settings.mongo_database)


@pytest.fixture
async def database(settings: ServiceSettings) -> AsyncIterator[AsyncDatabase[Document]]:
    async with mongo_client(settings.mongo_url, app_name="parterre-tests") as client:
        yield client[settings.mongo_database]


@pytest.fixture(scope="session")
async def names_handed_out(servers: Servers) -> AsyncIterator[list[str]]:
    """The unique names this run's tests were given; when the run ends, every Kafka topic holding one goes. The
    broker keeps a topic until it is deleted, run after run: a test stack used for some weeks held 1,766
    partitions in 3.8 GB, each one more for the broker to open and watch."""
    names: list[str] = []
    yield names
    if names:
        try:
            # A test's topics, its namespace's and its dead letters all hold its name.
            await delete_topics_matching(servers.kafka_bootstrap, lambda topic: any(name in topic for name in names))
        except (KafkaError, OSError) as exc:
            # The tests are done and have their results: topics left behind are told, not counted as a failure.
            warnings.warn(f"the run's Kafka topics were not deleted: {exc!r}", stacklevel=1)


@pytest.fixture
def unique_name(names_handed_out: list[str]) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    names_handed_out.append(name)
    return name
