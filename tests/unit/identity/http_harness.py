"""The identity routes on the in-memory store, behind a stand-in token: for tests of what callers see."""

from collections.abc import Sequence
from typing import Any, get_args

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.context import IdentityContext, SystemClock
from services.identity.entrypoints.http import router
from services.identity.handlers import IdentityDeps
from services.identity.metrics import IdentityMetrics
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.access import IdentityReviewer, PrivacyEraser, PrivacyExporter, ProfilesReader
from shared.service import ServiceParts, create_service_app
from shared.tokens import Principal, Scope

ORGANISATION = "theatre-du-nord"


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Any] = []

    async def publish_many(self, records: Sequence[Any]) -> None:
        self.published.extend(records)


def identity_app(store: InMemoryIdentityStore, *, principal_name: str = "marie", routes: APIRouter = router) -> FastAPI:
    settings = IdentitySettings()
    app = create_service_app(settings, ServiceParts(title="identity", description="", routers=[routes]))
    context = IdentityContext(
        settings=settings,
        deps=IdentityDeps(store=store, rules=load_rules(settings), clock=SystemClock()),
        publisher=RecordingPublisher(),  # type: ignore[arg-type]
        metrics=IdentityMetrics(CollectorRegistry()),
    )
    app.state.runtime.extras["identity"] = context
    principal = Principal(token_id="t1", organisation_id=ORGANISATION, scopes=frozenset(Scope), name=principal_name)
    for alias in (ProfilesReader, IdentityReviewer, PrivacyEraser, PrivacyExporter):
        # The scope check itself is `shared.access`'s to test: here every route lets the stand-in through.
        app.dependency_overrides[get_args(alias)[1].dependency] = lambda: principal
    return app
