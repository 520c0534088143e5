"""Ingest use cases: publish what is new, once, and say precisely what was refused."""

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from services.ingest.domain.boxoffice import AcceptedRow, ImportReport, read_boxoffice_csv
from services.ingest.domain.boxoffice_mapping import ColumnMapping
from services.ingest.domain.sources import Source
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
    while a large file streams through; memory holds one chunk. Valid rows are published whatever the
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
    while chunk := await asyncio.to_thread(lambda: list(itertools.islice(outcomes, chunk_rows))):
        envelopes: list[Envelope] = []
        for outcome in chunk:
            summary.report.add(outcome)
            if isinstance(outcome, AcceptedRow):
                envelopes.extend(outcome.envelopes)
        accepted_rows = sum(isinstance(outcome, AcceptedRow) for outcome in chunk)
        metrics.import_rows.labels(source.organisation_id, source.source_id, "accepted").inc(accepted_rows)
        metrics.import_rows.labels(source.organisation_id, source.source_id, "rejected").inc(len(chunk) - accepted_rows)
        if envelopes and sink is not None and ledger is not None and not dry_run:
            outcome_of_chunk = await publish_new(
                envelopes,
                organisation_id=source.organisation_id,
                source=source.source_id,
                sink=sink,
                ledger=ledger,
                metrics=metrics,
            )
            summary.published += len(outcome_of_chunk.published)
            summary.duplicates += len(outcome_of_chunk.duplicates)
        if on_progress is not None:
            on_progress(summary)
    return summary
