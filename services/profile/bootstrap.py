"""Builds the profile service: settings, clients, adapters and routes; nothing happens at import."""

from fastapi import FastAPI

from services.profile.settings import ProfileSettings
from shared.service import ServiceParts, create_service_app
from shared.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or ProfileSettings(),
        ServiceParts(
            title="Parterre profile",
            description="Keeps the 360° audience profile, segments and consent-aware triggers.",
        ),
    )
