"""What Kafka says about the pipeline: how far behind each consumer group is, and what each dead-letter topic
holds."""

from dataclasses import dataclass

from shared.consumer_lag import LagReader
from shared.topics import CONSUMER_GROUPS


@dataclass(frozen=True)
class GroupState:
    group_id: str
    topic: str
    # Records published and not yet committed by the group, over all partitions.
    lag: int
    dead_letters: int


async def pipeline_state(bootstrap: str) -> list[GroupState]:
    async with LagReader(bootstrap) as reader:
        return [
            GroupState(
                group.group_id,
                group.topic.name,
                await reader.lag(group.group_id, group.topic.name),
                await reader.records(group.dead_letter_topic),
            )
            for group in CONSUMER_GROUPS
        ]
