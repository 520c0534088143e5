"""Builds the ingest service: settings, clients, adapters and routes; nothing happens at import."""

from fastapi import FastAPI

from services.ingest.settings import IngestSettings
from shared.service import ServiceParts, create_service_app
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or IngestSettings(),
        ServiceParts(
            title="Parterre ingest",
            description=(
                "Receives webhooks, API events and box-office imports, validates them and publishes them to Kafka."
            ),
        ),
    )
