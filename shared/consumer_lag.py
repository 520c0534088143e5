"""How far behind a consumer group is: records published to its topic and not yet committed by it."""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class LagReader:
    """One admin client and one offsets reader, kept open between readings."""

    def __init__(self, bootstrap: str) -> None:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def __aenter__(self) -> "LagReader":
        await self._admin.start()
        await self._reader.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._reader.stop()
        await self._admin.close()

    async def lag(self, group_id: str, topic: str) -> int:
        """Over all the topic's partitions, from where the group would read next: its commit, or the partition's first
        record if the group never committed or retention deleted the records past its commit. A topic that does not
        exist holds nothing to read."""
        partitions = [TopicPartition(topic, number) for number in await self._partitions(topic)]
        committed = await self._admin.list_consumer_group_offsets(group_id, partitions=partitions)
        ends = await self._reader.end_offsets(partitions)
        starts = await self._reader.beginning_offsets(partitions)
        behind = 0
        for partition in partitions:
            done = committed.get(partition)
            # Records the topic's retention deleted past the group's commit are not there to read: it starts after.
            position = (
                max(done.offset, starts[partition]) if done is not None and done.offset >= 0 else starts[partition]
            )
            behind += max(ends[partition] - position, 0)
        return behind

    async def records(self, topic: str) -> int:
        """How many records the topic holds now (a dead-letter topic's count)."""
        partitions = [TopicPartition(topic, number) for number in await self._partitions(topic)]
        ends = await self._reader.end_offsets(partitions)
        starts = await self._reader.beginning_offsets(partitions)
        return sum(ends[partition] - starts[partition] for partition in partitions)

    async def _partitions(self, topic: str) -> list[int]:
        """The topic's partitions, none if it does not exist. Every topic is described: asking for one by name lets a
        broker that auto-creates topics create it, with its default partition count rather than the catalog's."""
        for description in await self._admin.describe_topics():
            if description["topic"] == topic:
                return sorted(entry["partition"] for entry in description["partitions"])
        return []
