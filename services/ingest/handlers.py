"""Ingest use cases: publish what is new, once, and say precisely what was refused."""

import time
from collections.abc import Sequence
from dataclasses import dataclass

from services.ingest.metrics import IngestMetrics
from services.ingest.ports import EventSink, PublicationLedger
from shared.events import Envelope


@dataclass(frozen=True)
class PublishOutcome:
    published: tuple[Envelope, ...]
    duplicates: tuple[Envelope, ...]


async def publish_new(
    envelopes: Sequence[Envelope],
    *,
    organisation_id: str,
    source: str,
    sink: EventSink,
    ledger: PublicationLedger,
    metrics: IngestMetrics,
) -> PublishOutcome:
    """Publish the envelopes whose ids were never published, once each, and report the others as duplicates.

    Ids are claimed before publishing and confirmed after Kafka has acknowledged; a failed publish releases
    its claims, and a claim its publisher never confirmed (it died) is taken over later. The worst case is
    a repeat on Kafka, which consumers ignore by event id; an accepted event is never lost.
    """
    first_by_id: dict[str, Envelope] = {}
    duplicates: list[Envelope] = []
    for envelope in envelopes:
        if envelope.id in first_by_id:
            duplicates.append(envelope)
        else:
            first_by_id[envelope.id] = envelope
    claimed = await ledger.claim(organisation_id, list(first_by_id))
    fresh = [envelope for event_id, envelope in first_by_id.items() if event_id in claimed]
    duplicates += [envelope for event_id, envelope in first_by_id.items() if event_id not in claimed]
    if fresh:
        started = time.perf_counter()
        try:
            await sink.publish(fresh)
        except BaseException:
            await ledger.release(organisation_id, [envelope.id for envelope in fresh])
            raise
        metrics.publish_seconds.observe(time.perf_counter() - started)
        metrics.batch_size.observe(len(fresh))
        await ledger.confirm(organisation_id, [envelope.id for envelope in fresh])
    for envelope in fresh:
        metrics.events.labels(organisation_id, source, envelope.type, "accepted", "").inc()
    for envelope in duplicates:
        metrics.events.labels(organisation_id, source, envelope.type, "duplicate", "").inc()
    return PublishOutcome(tuple(fresh), tuple(duplicates))
