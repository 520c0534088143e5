"""Builds the ingest service: settings, clients, adapters and routes; nothing happens at import."""

from datetime import timedelta

from fastapi import FastAPI

from services.ingest.adapters.kafka_sink import KafkaEventSink
from services.ingest.adapters.mongo import (
    EVENT_CLAIMS,
    INDEXES,
    ORDER_BUYERS,
    PUBLISHED_EVENTS,
    SOURCES,
    MongoOrderBuyers,
    MongoPublicationLedger,
    MongoSourceRegistry,
)
from services.ingest.context import IngestContext
from services.ingest.entrypoints.http import router
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from shared.kafka import BulkKafkaPublisher
from shared.service import Runtime, ServiceParts, create_service_app


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    ingest_settings = settings or IngestSettings()

    bulk_publisher = BulkKafkaPublisher(ingest_settings)

    async def connect(runtime: Runtime) -> None:
        await bulk_publisher.start()
        runtime.extras["ingest"] = IngestContext(
            settings=ingest_settings,
            sink=KafkaEventSink(bulk_publisher),
            ledger=MongoPublicationLedger(
                runtime.database[EVENT_CLAIMS],
                runtime.database[PUBLISHED_EVENTS],
                abandoned_after=timedelta(seconds=ingest_settings.claim_abandoned_after_seconds),
            ),
            sources=MongoSourceRegistry(runtime.database[SOURCES]),
            orders=MongoOrderBuyers(runtime.database[ORDER_BUYERS]),
            metrics=metrics,
        )

    app = create_service_app(
        ingest_settings,
        ServiceParts(
            title="Parterre ingest",
            description=(
                "Receives webhooks, API events and box-office imports, validates them and publishes them to Kafka. "
                "Every error names the field and the reason, in English and French."
            ),
            routers=[router],
            indexes=INDEXES,
            on_start=connect,
            on_stop=lambda _runtime: bulk_publisher.stop(),
        ),
    )
    metrics = IngestMetrics(app.state.runtime.registry)
    return app
