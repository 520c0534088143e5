"""The identity service's wired adapters, built once when the service starts."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from services.identity.handlers import IdentityDeps
from services.identity.metrics import IdentityMetrics
from services.identity.ports import IdentityStore
from services.identity.settings import IdentitySettings
from shared.events import Envelope
from shared.kafka import KafkaPublisher, record_for


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class IdentityContext:
    settings: IdentitySettings
    deps: IdentityDeps
    publisher: KafkaPublisher
    metrics: IdentityMetrics

    @property
    def store(self) -> IdentityStore:
        return self.deps.store

    async def publish(self, envelopes: tuple[Envelope, ...]) -> None:
        """Returns once Kafka has every event (acks=all)."""
        if envelopes:
            await self.publisher.publish_many([record_for(envelope) for envelope in envelopes])


def _identity_context(request: Request) -> IdentityContext:
    context = request.app.state.runtime.extras["identity"]
    assert isinstance(context, IdentityContext)
    return context


IdentityDep = Annotated[IdentityContext, Depends(_identity_context)]
