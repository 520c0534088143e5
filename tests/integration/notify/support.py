"""The notify service under test: topics and consumer groups of its own, real receivers, and event builders."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from services.notify.bootstrap import create_app
from services.notify.context import NotifyContext
from services.notify.settings import NotifySettings
from shared.events import Envelope, EventData, build_envelope
from shared.events.profile import ProfileChangedV1, ProfileErasedV1, SegmentEnteredV1, TriggerFiredV1
from shared.tokens import Scope
from tests.integration.kafka_support import publish_envelopes


@dataclass
class NotifyHarness:
    settings: NotifySettings
    organisation_id: str
    changes_topic: str
    triggers_topic: str
    group_prefix: str

    def envelope(self, data: EventData, event_id: str, person_id: str) -> Envelope:
        return build_envelope(
            data,
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/profile",
            id=event_id,
            time=datetime.now(UTC),
            person_id=person_id,
        )

    def trigger(self, event_id: str, person_id: str = "per_elise", *, rule: str = "welcome-first-purchase") -> Envelope:
        data = TriggerFiredV1(
            trigger_id=f"trg_{event_id}",
            rule=rule,
            purpose="marketing_email",
            dedupe_key=f"{rule}:{person_id}:{event_id}",
            person_id=person_id,
            language="en",
            contact_points=[{"channel": "email", "value": f"{person_id}@example.com"}],
            facts={"plan": "Abonnement 5 pièces"},
            fired_at=datetime.now(UTC),
        )
        return self.envelope(data, event_id, person_id)

    def changed(self, event_id: str, person_id: str, version: int, **changed: Any) -> Envelope:
        data = ProfileChangedV1(person_id=person_id, changed=changed, profile_version=version)
        return self.envelope(data, event_id, person_id)

    def consent(self, event_id: str, person_id: str, version: int, *, status: str) -> Envelope:
        return self.changed(
            event_id,
            person_id,
            version,
            **{
                "emails": [f"{person_id}@example.com"],
                "first_name": "Élise",
                "last_name": "Gagnon",
                "preferred_language": "fr",
                "consent.marketing_email.status": status,
                "consent.marketing_email.allowed": status == "granted",
            },
        )

    def entered(self, event_id: str, person_id: str, segment: str) -> Envelope:
        data = SegmentEnteredV1(segment=segment, person_id=person_id, at=datetime.now(UTC))
        return self.envelope(data, event_id, person_id)

    def erased(self, event_id: str, person_id: str) -> Envelope:
        return self.envelope(ProfileErasedV1(person_id=person_id, at=datetime.now(UTC)), event_id, person_id)

    async def publish_changes(self, *envelopes: Envelope) -> None:
        await publish_envelopes(self.settings.kafka_bootstrap, self.changes_topic, list(envelopes))

    async def publish_triggers(self, *envelopes: Envelope) -> None:
        await publish_envelopes(self.settings.kafka_bootstrap, self.triggers_topic, list(envelopes))


@asynccontextmanager
async def running_notify(harness: NotifyHarness) -> AsyncIterator[FastAPI]:
    app = create_app(
        harness.settings,
        changes_topic=harness.changes_topic,
        triggers_topic=harness.triggers_topic,
        group_prefix=harness.group_prefix,
    )
    async with app.router.lifespan_context(app):
        yield app


def context_of(app: FastAPI) -> NotifyContext:
    context = app.state.runtime.extras["notify"]
    assert isinstance(context, NotifyContext)
    return context


@asynccontextmanager
async def api(app: FastAPI, organisation_id: str, *scopes: Scope) -> AsyncIterator[httpx.AsyncClient]:
    token = await app.state.runtime.tokens.issue(
        organisation_id, set(scopes) or {Scope.SUBSCRIPTIONS_ADMIN}, "notify tests"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://notify",
        headers={"Authorization": f"Bearer {token.token}"},
    ) as client:
        yield client


async def subscribe(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "events": {"triggers": ["*"]}, **fields}
    response = await client.post("/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
