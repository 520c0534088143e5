"""Creates the topics of the catalog with their partition counts; safe to run any number of times."""

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicReport:
    created: list[str]
    existing: list[str]
    under_partitioned: dict[str, tuple[int, int]]  # name -> (have, want)


async def ensure_topics(bootstrap: str, wanted: dict[str, int], replication_factor: int = 1) -> TopicReport:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="parterre-topic-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name, wanted[name], replication_factor) for name in missing],
                validate_only=False,
            )
        present = [name for name in wanted if name in existing]
        under: dict[str, tuple[int, int]] = {}
        if present:
            for description in await admin.describe_topics(present):
                have = len(description["partitions"])
                if have < wanted[description["topic"]]:
                    under[description["topic"]] = (have, wanted[description["topic"]])
        # Adding partitions to a live topic moves keys to other partitions and breaks per-person order
        # for messages in flight, so it is reported for an operator to decide, never done silently.
        for name, (have, want) in under.items():
            log.warning("topic %s has %d partitions, the catalog wants %d", name, have, want)
        return TopicReport(created=missing, existing=present, under_partitioned=under)
    finally:
        await admin.close()
