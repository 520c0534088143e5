"""Creates the topics of the catalog with their partition counts, safe to run any number of times; deletes a
namespace's topics once the platform using them is done."""

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.topics import dead_letter_topic_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicReport:
    created: list[str]
    existing: list[str]
    under_partitioned: dict[str, tuple[int, int]]  # name -> (have, want)
    # Topics the broker would not create, with its reason: a replication factor the cluster cannot give, no right
    # to create topics, a name it does not take.
    refused: dict[str, str] = field(default_factory=dict)


async def ensure_topics(bootstrap: str, wanted: dict[str, int], replication_factor: int = 1) -> TopicReport:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="parterre-topic-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        refused: dict[str, str] = {}
        if missing:
            response = await admin.create_topics(
                [NewTopic(name, wanted[name], replication_factor) for name in missing],
                validate_only=False,
            )
            refused, made_meanwhile = _refusals(response.topic_errors)
            existing |= made_meanwhile
        missing = [name for name in missing if name not in existing and name not in refused]
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
        for name, reason in refused.items():
            log.error("Kafka would not create topic %s: %s", name, reason)
        return TopicReport(created=missing, existing=present, under_partitioned=under, refused=refused)
    finally:
        await admin.close()


def _refusals(topic_errors: Iterable[Sequence[Any]]) -> tuple[dict[str, str], set[str]]:
    """Of a CreateTopics answer's entries (name, error code, and from version 1 a message): the topics refused, with
    the reason, and those another client created meanwhile."""
    refused: dict[str, str] = {}
    made_meanwhile: set[str] = set()
    for entry in topic_errors:
        name, code = entry[0], entry[1]
        if code == 0:
            continue
        error = for_code(code)
        if error is TopicAlreadyExistsError:
            made_meanwhile.add(name)
            continue
        message = entry[2] if len(entry) > 2 and entry[2] else error.description
        refused[name] = f"{error.message}: {message}"
    return refused, made_meanwhile


async def delete_namespace_topics(bootstrap: str, namespace: str) -> list[str]:
    """Deletes every topic of the platform of `namespace` (a test's, a benchmark's), dead-letter topics included,
    those of consumer groups outside the catalog too; returns their names. The catalog's own topics have no
    namespace and are never deleted here."""
    if not namespace:
        raise ValueError("the catalog's topics (no namespace) are not for deleting")
    prefixes = (namespace, dead_letter_topic_for(namespace))
    return await delete_topics_matching(bootstrap, lambda name: name.startswith(prefixes))


async def delete_topics_matching(bootstrap: str, matches: Callable[[str], bool]) -> list[str]:
    """Deletes every topic whose name `matches`; returns their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="parterre-topic-admin")
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if matches(name)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()
