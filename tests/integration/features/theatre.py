"""The platform as one theatre uses it, through public HTTP only: its upstream systems sending to ingest, its staff
reading identity and profile, and its marketing tool receiving notify's webhooks."""

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from demo.credentials import Credentials
from demo.receiver import DemoReceiver
from demo.season import SourceIds
from demo.send import SHOPIFY_API_VERSION, shopify_hmac
from tests.integration.features.patrons import ShopifyWebhook

SUBSCRIPTION_OFFER = "subscription-offer-third-production"
TRIGGER_FIRED = "parterre.trigger.fired.v1"
# Ingest answers 503 (with Retry-After) while Kafka or the store is slow to take events: send again, as vendors do.
SEND_ATTEMPTS = 6


@dataclass(frozen=True)
class Arrival:
    webhook_id: str
    message: dict[str, Any]


class FeatureReceiver(DemoReceiver):
    """The demo's marketing tool, which refuses any message whose Standard Webhooks signature does not verify,
    keeping every message it accepted, a redelivery of one (same `webhook-id`) included."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[Arrival] = []

    def accept(self, headers: Mapping[str, str], body: bytes) -> int:
        status = super().accept(headers, body)
        if status == 204:
            webhook_id = {name.lower(): value for name, value in headers.items()}["webhook-id"]
            with self.received.lock:
                self.arrivals.append(Arrival(webhook_id, json.loads(body)))
        return status

    def about(self, person_id: str) -> list[Arrival]:
        with self.received.lock:
            return [arrival for arrival in self.arrivals if arrival.message["data"].get("person_id") == person_id]

    @property
    def refused(self) -> int:
        with self.received.lock:
            return self.received.refused


@dataclass
class Theatre:
    organisation_id: str
    sources: SourceIds
    credentials: Credentials
    # A privacy officer's token: erasure needs a scope the everyday token does not have.
    privacy_token: str
    ingest: httpx.AsyncClient
    identity: httpx.AsyncClient
    profile: httpx.AsyncClient
    notify: httpx.AsyncClient
    receiver: FeatureReceiver
    subscription_id: str

    # In: upstream systems

    async def import_boxoffice(self, export: bytes, *, news: bool = True) -> dict[str, Any]:
        """Imports `export`, every row accepted (and something published, unless not `news`); answers its report."""
        answer = await self._send(
            self.ingest,
            f"/v1/imports/boxoffice/{self.sources.boxoffice}",
            export,
            {"Content-Type": "text/csv", **self._bearer()},
        )
        summary: dict[str, Any] = answer.json()
        assert summary["rejected"] == 0, summary
        assert summary["published"] >= 1 or not news, summary
        return summary

    async def send_shopify(self, webhook: ShopifyWebhook) -> None:
        answer = await self._send(
            self.ingest,
            f"/v1/webhooks/shopify/{self.sources.shop}",
            webhook.body,
            {
                "Content-Type": "application/json",
                "X-Shopify-Topic": webhook.topic,
                "X-Shopify-Hmac-Sha256": shopify_hmac(self.credentials.shopify_secret, webhook.body),
                "X-Shopify-Webhook-Id": webhook.webhook_id,
                "X-Shopify-Shop-Domain": f"{self.sources.shop}.myshopify.com",
                "X-Shopify-API-Version": SHOPIFY_API_VERSION,
            },
        )
        assert answer.json()["published"] >= 1, answer.text

    async def send_mailchimp(self, form: bytes) -> None:
        answer = await self._send(
            self.ingest,
            f"/v1/webhooks/mailchimp/{self.sources.newsletter}",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Parterre-Source-Key": self.credentials.mailchimp_key,
            },
        )
        assert answer.json()["published"] >= 1, answer.text

    async def send_events(self, *events: dict[str, Any]) -> None:
        body = json.dumps(list(events), ensure_ascii=False).encode()
        answer = await self._send(
            self.ingest, "/v1/events", body, {"Content-Type": "application/cloudevents-batch+json", **self._bearer()}
        )
        assert answer.json()["accepted"] == len(events), answer.text

    async def _send(self, client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        for _attempt in range(SEND_ATTEMPTS):
            answer = await client.post(path, content=body, headers=headers)
            if answer.status_code not in (429, 503):
                break
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        assert answer.status_code in (200, 202), f"{path}: {answer.status_code} {answer.text}"
        return answer

    def _bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.credentials.token}"}

    # What staff do

    async def unmerge(self, person_id: str) -> dict[str, Any]:
        """A reviewer undoes the person's latest merge; answers the event's data (the persons restored)."""
        answer = await self.identity.post(f"/v1/persons/{person_id}/unmerge", headers=self._bearer())
        assert answer.status_code == 200, answer.text
        unmerged: dict[str, Any] = answer.json()["unmerged"]
        return unmerged

    # Out: what staff read

    async def person_by(self, **identifier: str) -> str | None:
        """The person identity holds behind one identifier (`email=`, or `source=` with `external_id=`)."""
        answer = await self.identity.get("/v1/persons", params=identifier, headers=self._bearer())
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return str(answer.json()["person_id"])

    async def identity_person(self, person_id: str) -> dict[str, Any] | None:
        answer = await self.identity.get(f"/v1/persons/{person_id}", headers=self._bearer())
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    async def profile_of(self, person_id: str) -> dict[str, Any] | None:
        answer = await self.profile.get(f"/v1/profiles/{person_id}", headers=self._bearer())
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    async def profiles_with_email(self, email: str) -> list[dict[str, Any]]:
        answer = await self.profile.get("/v1/profiles", params={"email": email}, headers=self._bearer())
        answer.raise_for_status()
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def search(self, text: str) -> list[dict[str, Any]]:
        answer = await self.profile.get("/v1/profiles/search", params={"q": text}, headers=self._bearer())
        answer.raise_for_status()
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    async def erase(self, person_id: str) -> None:
        answer = await self.profile.post(
            f"/v1/persons/{person_id}/erase",
            json={"reason": "The patron asked to be forgotten."},
            headers=self._bearer(self.privacy_token),
        )
        assert answer.status_code == 202, answer.text

    async def erasure_record(self, person_id: str) -> dict[str, Any]:
        answer = await self.profile.get(f"/v1/persons/{person_id}/erasure", headers=self._bearer(self.privacy_token))
        answer.raise_for_status()
        record: dict[str, Any] = answer.json()
        return record

    # Out: what the marketing tool was sent

    async def deliveries_about(self, person_id: str) -> list[dict[str, Any]]:
        """Notify's deliveries to the theatre's webhook about one person, newest first."""
        answer = await self.notify.get(
            "/v1/deliveries", params={"subscription": self.subscription_id, "person": person_id}, headers=self._bearer()
        )
        answer.raise_for_status()
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


async def subscribe_webhook(notify: httpx.AsyncClient, token: str, url: str) -> tuple[str, str]:
    """The marketing tool subscribed to the subscription offer; its id and signing secret."""
    answer = await notify.post(
        "/v1/subscriptions",
        json={
            "kind": "webhook",
            "url": url,
            "description": "Marketing tool: season pass offers",
            "events": {"triggers": [SUBSCRIPTION_OFFER]},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    return str(created["subscription_id"]), str(created["secret"])
