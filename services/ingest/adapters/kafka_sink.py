"""Publishes ingested events to Kafka, each on its type's topic with its key."""

from collections.abc import Sequence

from shared.events import Envelope
from shared.kafka import BulkKafkaPublisher, record_for


class KafkaEventSink:
    def __init__(self, publisher: BulkKafkaPublisher) -> None:
        self._publisher = publisher

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        await self._publisher.publish_many(record_for(envelope) for envelope in envelopes)
