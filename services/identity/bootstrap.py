"""Builds the identity service: settings, clients, adapters and routes; nothing happens at import."""

from fastapi import FastAPI

from services.identity.settings import IdentitySettings
from shared.service import ServiceParts, create_service_app
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or IdentitySettings(),
        ServiceParts(
            title="Parterre identity",
            description="Resolves every fact to one person per organisation, with reversible merges.",
        ),
    )
