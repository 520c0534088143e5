"""The ingest service's wired adapters, built once when the service starts."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.ingest.adapters.kafka_sink import KafkaEventSink
from services.ingest.adapters.mongo import MongoOrderBuyers, MongoPublicationLedger, MongoSourceRegistry
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings


@dataclass(frozen=True)
class IngestContext:
    settings: IngestSettings
    sink: KafkaEventSink
    ledger: MongoPublicationLedger
    sources: MongoSourceRegistry
    orders: MongoOrderBuyers
    metrics: IngestMetrics


def _ingest_context(request: Request) -> IngestContext:
    context = request.app.state.runtime.extras["ingest"]
    assert isinstance(context, IngestContext)
    return context


IngestDep = Annotated[IngestContext, Depends(_ingest_context)]
