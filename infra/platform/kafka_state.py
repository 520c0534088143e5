"""What Kafka says about the pipeline: how far behind each consumer group is, and what each dead-letter topic
holds."""

from dataclasses import dataclass

from shared.consumer_lag import LagReader
from shared.topics import CONSUMER_GROUPS, dead_letter_topic_for


@dataclass(frozen=True)
class GroupState:
    group_id: str
    topic: str
    # Records published and not yet committed by the group, over all partitions.
    lag: int
    dead_letters: int


async def pipeline_state(bootstrap: str, namespace: str = "") -> list[GroupState]:
    """The catalog's groups, in the platform's namespace (see `ServiceSettings.kafka_namespace`)."""
    async with LagReader(bootstrap) as reader:
        return [
            GroupState(
                namespace + group.group_id,
                namespace + group.topic.name,
                await reader.lag(namespace + group.group_id, namespace + group.topic.name),
                await reader.records(dead_letter_topic_for(namespace + group.group_id)),
            )
            for group in CONSUMER_GROUPS
        ]
