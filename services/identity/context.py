"""The identity service's wired adapters, built once when the service starts."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from services.identity.domain.identifiers import load_identifier_policy
from services.identity.domain.match_settings import load_match_settings
from services.identity.handlers import IdentityDeps, IdentityRules
from services.identity.metrics import IdentityMetrics
from services.identity.ports import IdentityStore
from services.identity.settings import IdentitySettings
from shared.events import Envelope
from shared.kafka import KafkaPublisher, record_for
from shared.yaml_models import read_config_file

log = logging.getLogger(__name__)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def load_rules(settings: IdentitySettings) -> IdentityRules:
    """The identifier policy and matching model the settings name; a bad file stops the start with its line."""
    policy_path, model_path = settings.policy_path(), settings.match_model_path()
    policy = load_identifier_policy(read_config_file(policy_path), file_name=str(policy_path))
    matching = load_match_settings(read_config_file(model_path), file_name=str(model_path))
    if not settings.identity_suppression_salt:
        log.warning("PARTERRE_IDENTITY_SUPPRESSION_SALT is not set: using the development salt")
    return IdentityRules(
        policy=policy,
        matching=matching,
        suppression_salt=settings.salt(),
        default_region=settings.identity_default_region,
    )


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
