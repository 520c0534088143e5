"""A benchmark's or a test's platform deletes its topics afterwards, and nobody else's."""

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ServerSelectionTimeoutError

from bench.support import Servers, discard_run
from infra.platform.fleet import free_port
from shared.mongo import Document
from shared.settings import ServiceSettings
from shared.topic_admin import delete_namespace_topics, ensure_topics
from shared.topics import all_topic_partitions, dead_letter_topic_for
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka]


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_namespace_s_topics_go_with_it_dead_letters_made_on_demand_too(
    settings: ServiceSettings, unique_name: str
) -> None:
    namespace = f"{unique_name}."
    # Another namespace whose name begins with this one's, and a topic naming it without being in it.
    neighbour = f"{unique_name}0."
    catalog = all_topic_partitions(namespace)
    on_demand = dead_letter_topic_for(f"{namespace}bench-profile")
    kept = {f"{neighbour}parterre.audience.facts.v1": 1, f"test.facts.{unique_name}": 1}
    await ensure_topics(settings.kafka_bootstrap, {**catalog, on_demand: 1, f"{namespace}bench.facts": 2, **kept})

    deleted = await delete_namespace_topics(settings.kafka_bootstrap, namespace)

    assert set(deleted) == {*catalog, on_demand, f"{namespace}bench.facts"}

    async def gone() -> bool:
        return not await _topics(settings.kafka_bootstrap) & set(deleted)

    # The controller has deleted them when it answers; the broker's list may follow a moment later.
    assert await eventually(gone)
    assert set(kept) <= await _topics(settings.kafka_bootstrap)
    await delete_namespace_topics(settings.kafka_bootstrap, neighbour)


async def test_the_catalog_s_own_topics_are_never_deleted_as_a_namespace(settings: ServiceSettings) -> None:
    with pytest.raises(ValueError, match="catalog"):
        await delete_namespace_topics(settings.kafka_bootstrap, "")


async def test_a_benchmark_run_s_database_and_topics_are_discarded_together(
    settings: ServiceSettings, database: AsyncDatabase[Document], unique_name: str
) -> None:
    namespace = f"{unique_name}."
    await ensure_topics(settings.kafka_bootstrap, all_topic_partitions(namespace))
    await database["kept_until_discarded"].insert_one({"_id": "run"})
    servers = Servers(settings.kafka_bootstrap, settings.mongo_url)

    await discard_run(servers, settings.mongo_database, namespace)

    assert settings.mongo_database not in await database.client.list_database_names()

    async def gone() -> bool:
        return not await _topics(settings.kafka_bootstrap) & set(all_topic_partitions(namespace))

    assert await eventually(gone)


async def test_a_run_s_topics_go_even_when_the_store_cannot_be_reached(
    settings: ServiceSettings, unique_name: str
) -> None:
    namespace = f"{unique_name}."
    await ensure_topics(settings.kafka_bootstrap, all_topic_partitions(namespace))
    # Nothing listens there: the drop fails once the client gives up choosing a server.
    unreachable = Servers(settings.kafka_bootstrap, f"mongodb://127.0.0.1:{free_port()}/")

    with pytest.raises(ServerSelectionTimeoutError):
        await discard_run(unreachable, "bench_unreachable", namespace)

    async def gone() -> bool:
        return not await _topics(settings.kafka_bootstrap) & set(all_topic_partitions(namespace))

    assert await eventually(gone)
