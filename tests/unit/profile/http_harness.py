"""The profile routes on the in-memory store, behind a stand-in token: for tests of what callers see."""

from collections.abc import Sequence
from typing import Any, cast, get_args

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.profile.bootstrap import ROUTERS
from services.profile.context import ProfileContext, ProfileMetrics
from services.profile.handlers import ProfileDeps
from services.profile.ports import ProfileStore
from services.profile.settings import ProfileSettings
from shared.access import PrivacyEraser, PrivacyExporter, ProfilesReader, SegmentsReader
from shared.service import ServiceParts, create_service_app
from shared.tokens import Principal, Scope
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import World


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Any] = []

    async def publish_many(self, records: Sequence[Any]) -> None:
        self.published.extend(records)


def profile_world() -> World:
    store = MemoryProfileStore()

    async def documents() -> list[str]:
        return store.documents()

    return World(cast(ProfileStore, store), documents)


def profile_app(world: World, publisher: RecordingPublisher | None = None) -> FastAPI:
    settings = ProfileSettings()
    app = create_service_app(settings, ServiceParts(title="profile", description="", routers=ROUTERS))
    app.state.runtime.extras["profile"] = ProfileContext(
        settings=settings,
        deps=ProfileDeps(store=world.store, rules=world.deps.rules, clock=world.clock),
        publisher=publisher or RecordingPublisher(),  # type: ignore[arg-type]
        metrics=ProfileMetrics(CollectorRegistry()),
    )
    principal = Principal(token_id="t1", organisation_id=world.organisation_id, scopes=frozenset(Scope), name="marie")
    for alias in (ProfilesReader, SegmentsReader, PrivacyExporter, PrivacyEraser):
        # The scope check itself is `shared.access`'s to test: here every route lets the stand-in through.
        app.dependency_overrides[get_args(alias)[1].dependency] = lambda: principal
    return app
