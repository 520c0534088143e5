"""Publishes ingested events to Kafka, each on its type's topic with its key."""

from collections.abc import Sequence

from shared.events import Envelope
from shared.kafka import BulkKafkaPublisher, SerialisedEvent, record_for


class KafkaEventSink:
    def __init__(self, publisher: BulkKafkaPublisher) -> None:
        self._publisher = publisher

    async def publish(self, events: Sequence[Envelope | SerialisedEvent]) -> None:
        await self._publisher.publish_many(
            event.record if isinstance(event, SerialisedEvent) else record_for(event) for event in events
        )
