"""Builds the notify service: settings, clients, adapters and routes; nothing happens at import."""

from fastapi import FastAPI

from services.notify.settings import NotifySettings
from shared.service import ServiceParts, create_service_app
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or NotifySettings(),
        ServiceParts(
            title="Parterre notify",
            description="Delivers triggers and profile changes to marketing tools: signed, retried, consent-checked.",
        ),
    )
