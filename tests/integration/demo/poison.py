"""A poison message for the pipeline, and the wait for it in a dead-letter topic.

The poison is what a rolling upgrade can produce: an ingest already on a new version publishes a ticket purchase
of a type identity does not know yet. No attempt can help, so identity must set it aside and keep going."""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.events import all_event_types, build_envelope
from shared.kafka import CORRELATION_HEADER, EVENT_TYPE_HEADER, ORGANISATION_HEADER, decode_headers
from shared.topics import AUDIENCE_FACTS, dead_letter_topic_for

NEWER_TYPE = "parterre.ticket.purchased.v2"


async def publish_poison(bootstrap: str, namespace: str, organisation_id: str) -> str:
    """Publishes the poison on the platform's facts topic, with the headers ingest sets; returns its event id."""
    ticket = next(event for event in all_event_types() if event.name == "parterre.ticket.purchased.v1")
    envelope = build_envelope(
        ticket.model.model_validate(ticket.example),
        organisation_id=organisation_id,
        source=f"/orgs/{organisation_id}/sources/billetterie-principale",
        id=f"poison-{uuid.uuid4().hex}",
        time=datetime.now(UTC),
        ingested_at=datetime.now(UTC),
    ).model_copy(update={"type": NEWER_TYPE})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            namespace + AUDIENCE_FACTS.name,
            envelope.to_json_bytes(),
            key=b"billetterie-principale:C-004521",
            headers=[
                (ORGANISATION_HEADER, organisation_id.encode()),
                (CORRELATION_HEADER, envelope.id.encode()),
                (EVENT_TYPE_HEADER, NEWER_TYPE.encode()),
            ],
        )
    finally:
        await producer.stop()
    return envelope.id


@dataclass(frozen=True)
class DeadLetter:
    seconds: float
    headers: dict[str, str]


async def wait_for_dead_letter(
    bootstrap: str, namespace: str, group_id: str, event_id: str, deadline_seconds: float
) -> DeadLetter | None:
    """The dead letter carrying `event_id` in `group_id`'s dead-letter topic, and how long it took to appear;
    None if it did not within the deadline."""
    started = time.monotonic()
    consumer = AIOKafkaConsumer(
        dead_letter_topic_for(namespace + group_id),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        while time.monotonic() - started < deadline_seconds:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if event_id.encode() in (record.value or b""):
                        return DeadLetter(time.monotonic() - started, decode_headers(record.headers))
    finally:
        await consumer.stop()
    return None
