"""What Kafka says about the pipeline: how far behind each consumer group is, and what each dead-letter topic
holds."""

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.topics import CONSUMER_GROUPS, DEAD_LETTER_PARTITIONS


@dataclass(frozen=True)
class GroupState:
    group_id: str
    topic: str
    # Records published and not yet committed by the group, over all partitions.
    lag: int
    dead_letters: int


async def pipeline_state(bootstrap: str) -> list[GroupState]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        states = []
        for group in CONSUMER_GROUPS:
            partitions = [TopicPartition(group.topic.name, number) for number in range(group.topic.partitions)]
            committed = await admin.list_consumer_group_offsets(group.group_id, partitions=partitions)
            ends = await reader.end_offsets(partitions)
            starts = await reader.beginning_offsets(partitions)
            lag = 0
            for partition in partitions:
                done = committed.get(partition)
                position = done.offset if done is not None and done.offset >= 0 else starts[partition]
                lag += max(ends[partition] - position, 0)
            dead = [TopicPartition(group.dead_letter_topic, number) for number in range(DEAD_LETTER_PARTITIONS)]
            dead_ends, dead_starts = await reader.end_offsets(dead), await reader.beginning_offsets(dead)
            states.append(
                GroupState(
                    group.group_id,
                    group.topic.name,
                    lag,
                    sum(dead_ends[partition] - dead_starts[partition] for partition in dead),
                )
            )
        return states
    finally:
        await reader.stop()
        await admin.close()
