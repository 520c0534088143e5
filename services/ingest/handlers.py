"""Ingest use cases: publish what is new, once, and say precisely what was refused."""

import asyncio
import collections
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from services.ingest.domain.boxoffice import AcceptedRow, ImportReport, RowOutcome, read_boxoffice_csv
from services.ingest.domain.boxoffice_mapping import ColumnMapping
from services.ingest.domain.shopify import (
    attributed_order_id,
    awaits_its_order,
    buyer_reference,
    read_shopify_webhook,
    reads_topic,
    redacted_order_ids,
    with_buyer,
)
from services.ingest.domain.sources import Source
from services.ingest.metrics import IngestMetrics
from services.ingest.ports import NOBODY, Claim, EventSink, OrderBuyers, PublicationLedger, SourceRegistry
from shared.events import (
    Envelope,
    FieldError,
    ShopOrderCancelledV1,
    ShopOrderPlacedV1,
    SourceRedactionRequestedV1,
    parse_data,
)

log = logging.getLogger(__name__)
# The reason an event is refused when another source's event holds its id.
ID_REUSED = "id_reused"
# The reason a Shopify webhook of a topic Parterre does not read is acknowledged with nothing published.
UNSUPPORTED_TOPIC = "unsupported_topic"


class EventsInFlightError(Exception):
    """Another request holds some of the events and has not said that Kafka has them: they are neither new nor
    duplicates yet. Nothing was published; sent again shortly, they are settled one way or the other."""

    def __init__(self, event_ids: Sequence[str]) -> None:
        super().__init__(f"{len(event_ids)} events are being published by another request: {', '.join(event_ids[:5])}")
        self.event_ids = tuple(event_ids)


@dataclass(frozen=True)
class ReusedId:
    """An event under an id that an event of another source holds: not a repeat, and not published."""

    envelope: Envelope
    holder: str


@dataclass(frozen=True)
class PublishOutcome:
    published: tuple[Envelope, ...]
    duplicates: tuple[Envelope, ...]
    reused: tuple[ReusedId, ...] = ()


async def publish_new(
    envelopes: Sequence[Envelope],
    *,
    organisation_id: str,
    source: str,
    sink: EventSink,
    ledger: PublicationLedger,
    metrics: IngestMetrics,
    kafka_timeout_seconds: float | None = None,
) -> PublishOutcome:
    """Publish the envelopes whose ids were never published, once each, and report the others as duplicates.

    Ids are claimed before publishing and confirmed after Kafka has acknowledged; a failed publish releases
    its claims, and a claim its publisher never confirmed (it died) is taken over later. The worst case is
    a repeat on Kafka, which consumers ignore by event id; an accepted event is never lost. Events another
    request holds unconfirmed raise EventsInFlightError, with nothing published: reported as duplicates, they
    would be lost if that request died before Kafka had them.

    Only the wait for Kafka is bounded (TimeoutError after `kafka_timeout_seconds`, the claims released): once
    Kafka has the events they are reported published, however long their confirmation takes, and even if the
    store fails it. Cut short there, the caller would be told nothing was accepted, and a resend would be told the
    events are duplicates.
    """
    claimed = await claim_new(envelopes, organisation_id=organisation_id, ledger=ledger)
    return await publish_claimed(
        claimed,
        organisation_id=organisation_id,
        source=source,
        sink=sink,
        ledger=ledger,
        metrics=metrics,
        kafka_timeout_seconds=kafka_timeout_seconds,
    )


@dataclass(frozen=True)
class ClaimedEvents:
    """Envelopes this caller now holds the claim to publish, those already published (or repeated), and those under
    an id another source's event holds."""

    claim: Claim
    fresh: tuple[Envelope, ...]
    duplicates: tuple[Envelope, ...]
    reused: tuple[ReusedId, ...] = ()


async def claim_new(envelopes: Sequence[Envelope], *, organisation_id: str, ledger: PublicationLedger) -> ClaimedEvents:
    """The first step of `publish_new`: claims the ids never published; raises EventsInFlightError (holding
    nothing) when another publisher holds some of them unconfirmed."""
    # CloudEvents makes an event unique by its source and id; Parterre, which follows events downstream by id alone,
    # needs the id unique across an organisation's sources: another source's event under a known id is refused.
    by_id: dict[str, list[Envelope]] = {}
    for envelope in envelopes:
        by_id.setdefault(envelope.id, []).append(envelope)
    # Each id is claimed for the source of its first event in the batch.
    sources = {event_id: events[0].source for event_id, events in by_id.items()}
    claim = await ledger.claim(organisation_id, list(by_id), sources=sources)
    if claim.in_flight:
        await ledger.release(organisation_id, claim)
        raise EventsInFlightError(sorted(claim.in_flight))
    fresh: list[Envelope] = []
    duplicates: list[Envelope] = []
    reused: list[ReusedId] = []
    for event_id, events in by_id.items():
        # The source whose event the id is: another source's, known before; else this batch's first.
        holder = claim.reused.get(event_id, sources[event_id])
        first_of_holder = event_id in claim.event_ids
        for envelope in events:
            if envelope.source != holder:
                reused.append(ReusedId(envelope, holder))
            elif first_of_holder:
                fresh.append(envelope)
                first_of_holder = False
            else:
                duplicates.append(envelope)
    return ClaimedEvents(claim, tuple(fresh), tuple(duplicates), tuple(reused))


async def publish_claimed(
    claimed: ClaimedEvents,
    *,
    organisation_id: str,
    source: str,
    sink: EventSink,
    ledger: PublicationLedger,
    metrics: IngestMetrics,
    kafka_timeout_seconds: float | None = None,
) -> PublishOutcome:
    """The second step of `publish_new`: publishes what `claim_new` claimed, then confirms it."""
    fresh, claim = claimed.fresh, claimed.claim
    if fresh:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(kafka_timeout_seconds):
                await sink.publish(fresh)
        except BaseException:
            await ledger.release(organisation_id, claim)
            raise
        metrics.publish_seconds.observe(time.perf_counter() - started)
        metrics.batch_size.observe(len(fresh))
        try:
            await ledger.confirm(organisation_id, claim)
        except Exception:
            # Kafka has the events: they are published, and answering otherwise would have the sender count them
            # as refused. Unconfirmed, their claims read as in flight for a while (a resend is asked to wait), then
            # as abandoned (published again, and recognised downstream by id).
            log.exception("%d events published, their claims left unconfirmed", len(fresh))
    # Counted by type first: a labelled child is looked up once per type, not once per event.
    refused = tuple(refusal.envelope for refusal in claimed.reused)
    for outcome, reason, envelopes_of_outcome in (
        ("accepted", "", fresh),
        ("duplicate", "", claimed.duplicates),
        ("rejected", ID_REUSED, refused),
    ):
        for event_type, count in collections.Counter(envelope.type for envelope in envelopes_of_outcome).items():
            metrics.events.labels(organisation_id, source, event_type, outcome, reason).inc(count)
    return PublishOutcome(fresh, claimed.duplicates, claimed.reused)


@dataclass(frozen=True)
class WebhookOutcome:
    published: int
    duplicates: int
    # Refunds of orders not seen yet: kept, and published with the buyer once the order arrives.
    awaiting_order: int
    # A topic Parterre does not read, acknowledged with nothing published.
    topic_ignored: bool = False
    # The person's details that could not be read, left out of what was published: each JSON path with its reason.
    left_out: tuple[FieldError, ...] = ()


async def receive_shopify_webhook(
    topic: str,
    payload: Mapping[str, Any],
    *,
    source: Source,
    received_at: datetime,
    sink: EventSink,
    ledger: PublicationLedger,
    orders: OrderBuyers,
    sources: SourceRegistry,
    metrics: IngestMetrics,
    kafka_timeout_seconds: float | None = None,
) -> WebhookOutcome:
    """Publish what a verified Shopify webhook reports; raises `AdapterError` when its payload is unusable.

    A refund, or a cancellation, is attributed to the buyer of its order. An order's buyer is remembered for that,
    from the order or else from its cancellation (an order placed before the shop was connected is known by its
    cancellation alone), and publishing it also publishes the refunds that arrived before it. Privacy requests are
    published first, then what ingest itself keeps of the customer's orders, or of the whole shop, is deleted.

    A topic Parterre does not read (one subscribed by mistake, or one Shopify adds) is acknowledged with nothing
    published, logged and counted: refused, Shopify would retry it for hours and then delete the subscription. For
    the same reason, a detail of the person that cannot be read and does not name them is left out of what is
    published, and returned and counted as such; and a fact the payload tells that is not to be published (a refund
    whose every payment back failed) is logged and counted with its reason.
    """
    organisation_id, source_id = source.organisation_id, source.source_id
    if not reads_topic(topic):
        log.warning("Shopify %r for source %s is not a topic Parterre reads: acknowledged, ignored", topic, source_id)
        metrics.events.labels(organisation_id, source_id, "", "ignored", UNSUPPORTED_TOPIC).inc()
        return WebhookOutcome(published=0, duplicates=0, awaiting_order=0, topic_ignored=True)
    attributed = attributed_order_id(topic, payload)
    buyer = None if attributed is None else await orders.buyer(organisation_id, source_id, attributed)
    reading = read_shopify_webhook(
        topic, payload, organisation_id=organisation_id, source=source_id, received_at=received_at, order_buyer=buyer
    )
    envelopes = reading.events
    ready: list[Envelope] = []
    released: dict[str, list[str]] = {}
    if not envelopes:
        if not reading.unpublished:
            log.info(
                "Shopify %s for source %s reports nothing to publish (a test order, or a sale naming nobody)",
                topic,
                source_id,
            )
        if attributed is not None and buyer is None and topic.strip().lower() != "refunds/create":
            # An order that names no one: its refunds, before or after it, are no one's, and wait for nothing.
            waiting = await orders.remember(organisation_id, source_id, attributed, NOBODY)
            released.setdefault(attributed, []).extend(refund.id for refund in waiting)
            for refund in waiting:
                metrics.events.labels(organisation_id, source_id, refund.type, "ignored", "order_names_nobody").inc()
    awaiting = 0
    for envelope in envelopes:
        order_id = awaits_its_order(envelope)
        if order_id is None:
            ready.append(envelope)
        elif (found := await orders.wait_for_order(organisation_id, source_id, order_id, envelope)) is NOBODY:
            released.setdefault(order_id, []).append(envelope.id)
            metrics.events.labels(organisation_id, source_id, envelope.type, "ignored", "order_names_nobody").inc()
        elif found is not None:
            ready.append(with_buyer(envelope, found))
            released.setdefault(order_id, []).append(envelope.id)
        else:
            awaiting += 1
            metrics.events.labels(organisation_id, source_id, envelope.type, "awaiting_order", "").inc()
    buyers = {
        data.order_id: buyer_reference(data)
        for envelope in envelopes
        if isinstance(data := parse_data(envelope), ShopOrderPlacedV1 | ShopOrderCancelledV1)
    }
    for order_id, order_buyer in buyers.items():
        if order_id == attributed and buyer is not None:
            # Known from the order's first delivery, as its events were: a customer changed since does not replace it.
            continue
        waiting = await orders.remember(organisation_id, source_id, order_id, order_buyer)
        ready += [with_buyer(refund, order_buyer) for refund in waiting]
        released.setdefault(order_id, []).extend(refund.id for refund in waiting)
    outcome = await publish_new(
        ready,
        organisation_id=organisation_id,
        source=source_id,
        sink=sink,
        ledger=ledger,
        metrics=metrics,
        kafka_timeout_seconds=kafka_timeout_seconds,
    )
    for order_id, refund_ids in released.items():
        await orders.release(organisation_id, source_id, order_id, refund_ids)
    for unpublished in reading.unpublished:
        # Counted once the events are on Kafka, as below; said by upstream ids, never by personal information.
        log.info(
            "Shopify %s for source %s: %s: acknowledged, not published (%s)",
            topic,
            source_id,
            unpublished.about,
            unpublished.reason,
        )
        metrics.events.labels(organisation_id, source_id, unpublished.event_type, "ignored", unpublished.reason).inc()
    if reading.left_out:
        # Counted once the events are on Kafka, so a delivery that failed and is retried counts once; logged by path
        # and code, never by value (personal information).
        log.info(
            "Shopify %s for source %s: unreadable details left out: %s",
            topic,
            source_id,
            ", ".join(f"{error.field} ({error.code})" for error in reading.left_out),
        )
        for error in reading.left_out:
            metrics.details_left_out.labels(organisation_id, source_id, error.field, error.code).inc()
    if redacted := redacted_order_ids(topic, payload):
        await orders.forget_orders(organisation_id, source_id, redacted)
    for redaction in [data for e in envelopes if isinstance(data := parse_data(e), SourceRedactionRequestedV1)]:
        await sources.record_redaction_request(source_id, redaction.requested_at)
        await orders.forget_source(organisation_id, source_id)
    return WebhookOutcome(len(outcome.published), len(outcome.duplicates), awaiting, left_out=reading.left_out)


@dataclass
class ImportSummary:
    """What an import did: the rows' report, and how many events were new or already published."""

    report: ImportReport
    dry_run: bool
    published: int = 0
    duplicates: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report.to_dict(),
            "dry_run": self.dry_run,
            "published": self.published,
            "duplicates": self.duplicates,
        }


async def import_boxoffice(
    stream: BinaryIO,
    *,
    source: Source,
    mapping: ColumnMapping | None,
    imported_at: datetime,
    dry_run: bool,
    sink: EventSink | None,
    ledger: PublicationLedger | None,
    metrics: IngestMetrics,
    chunk_rows: int,
    on_progress: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Import a box-office export: the one code path of `parterre import boxoffice` and the upload endpoint.

    Reading and parsing run in a worker thread, a chunk of rows at a time, so the event loop keeps serving
    while a large file streams through; memory holds three chunks at most. Valid rows are published whatever the
    invalid ones do. Raises `CsvFormatError` before any row when the file as a whole cannot be read.
    """
    if not dry_run and (sink is None or ledger is None):
        raise ValueError("an import that is not a dry run needs a sink and a ledger to publish to")
    outcomes = await asyncio.to_thread(
        read_boxoffice_csv,
        stream,
        organisation_id=source.organisation_id,
        source=source.source_id,
        mapping=mapping,
        imported_at=imported_at,
    )
    summary = ImportSummary(ImportReport(), dry_run=dry_run)

    def read_chunk() -> list[RowOutcome]:
        return list(itertools.islice(outcomes, chunk_rows))

    async def publish(claimed: ClaimedEvents, sink: EventSink, ledger: PublicationLedger) -> None:
        published = await publish_claimed(
            claimed,
            organisation_id=source.organisation_id,
            source=source.source_id,
            sink=sink,
            ledger=ledger,
            metrics=metrics,
        )
        summary.published += len(published.published)
        summary.duplicates += len(published.duplicates)

    # Three stages overlap: the next chunk is parsed (Python's work, in a thread) while this one is claimed (the
    # store's) and the previous one is published to Kafka. One thread reads the file at a time, and one chunk is
    # published at a time, in the file's order, so a key's events keep their order on Kafka.
    reading = asyncio.ensure_future(asyncio.to_thread(read_chunk))
    publishing: asyncio.Future[None] | None = None
    publishing_ids: set[str] = set()
    try:
        while chunk := await reading:
            reading = asyncio.ensure_future(asyncio.to_thread(read_chunk))
            envelopes = _count_rows(chunk, summary, source=source, metrics=metrics)
            if envelopes and sink is not None and ledger is not None and not dry_run:
                # The chunk being published holds its ids unconfirmed: this import's own repeats of them are
                # duplicates, not events another publisher holds.
                repeats = tuple(envelope for envelope in envelopes if envelope.id in publishing_ids)
                claimed = await claim_new(
                    [envelope for envelope in envelopes if envelope.id not in publishing_ids],
                    organisation_id=source.organisation_id,
                    ledger=ledger,
                )
                if publishing is not None:
                    try:
                        await publishing
                    except BaseException:
                        # The import stops: the claims just taken would otherwise read as in flight for a while.
                        await ledger.release(source.organisation_id, claimed.claim)
                        raise
                publishing_ids = {envelope.id for envelope in claimed.fresh}
                claimed = ClaimedEvents(claimed.claim, claimed.fresh, claimed.duplicates + repeats)
                publishing = asyncio.ensure_future(publish(claimed, sink, ledger))
            if on_progress is not None:
                on_progress(summary)
        if publishing is not None:
            await publishing
            if on_progress is not None:
                on_progress(summary)
    finally:
        # Never leave the reader running on a file the caller is about to close, nor a publication unfinished:
        # its events may be on Kafka already, and it confirms or releases its claims.
        unfinished = [task for task in (reading, publishing) if task is not None]
        await asyncio.wait(unfinished)
        for task in unfinished:
            if not task.cancelled():
                task.exception()
    return summary


def _count_rows(
    chunk: list[RowOutcome], summary: ImportSummary, *, source: Source, metrics: IngestMetrics
) -> list[Envelope]:
    """Adds the chunk's rows to the report and the metrics; returns the events of its accepted rows."""
    envelopes: list[Envelope] = []
    for outcome in chunk:
        summary.report.add(outcome)
        if isinstance(outcome, AcceptedRow):
            envelopes.extend(outcome.envelopes)
    accepted_rows = sum(isinstance(outcome, AcceptedRow) for outcome in chunk)
    metrics.import_rows.labels(source.organisation_id, source.source_id, "accepted").inc(accepted_rows)
    metrics.import_rows.labels(source.organisation_id, source.source_id, "rejected").inc(len(chunk) - accepted_rows)
    return envelopes
