"""A platform of its own on shared servers: the services and the console on free ports, with a Kafka namespace and a
database nobody else uses, so a benchmark or a failure test reads only its own events; stopped and its topics deleted
afterwards."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from infra.platform.fleet import SERVICES, Fleet, free_ports
from shared.topic_admin import delete_namespace_topics, ensure_topics
from shared.topics import all_topic_partitions


@dataclass(frozen=True)
class IsolatedPlatform:
    fleet: Fleet
    namespace: str
    database: str

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.fleet.port(service)}"


@contextlib.asynccontextmanager
async def isolated_platform(
    root: Path,
    kafka_bootstrap: str,
    mongo_url: str,
    *,
    database: str,
    namespace: str | None = None,
    extra_environment: tuple[tuple[str, str], ...] = (),
) -> AsyncIterator[IsolatedPlatform]:
    namespace = namespace or f"iso-{uuid.uuid4().hex[:10]}."
    topics = all_topic_partitions(namespace)
    await ensure_topics(kafka_bootstrap, topics)
    fleet = Fleet(
        root=root,
        kafka_bootstrap=kafka_bootstrap,
        mongo_url=mongo_url,
        extra_environment=(
            ("PARTERRE_MONGO_DATABASE", database),
            ("PARTERRE_KAFKA_NAMESPACE", namespace),
            *extra_environment,
        ),
        ports=tuple(zip(SERVICES, free_ports(len(SERVICES)), strict=True)),
    )
    try:
        await asyncio.to_thread(fleet.up, lambda _line: None)
        yield IsolatedPlatform(fleet, namespace, database)
    finally:
        await asyncio.to_thread(fleet.down, lambda _line: None)
        await delete_namespace_topics(kafka_bootstrap, namespace)
