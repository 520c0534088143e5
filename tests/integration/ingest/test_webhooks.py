"""Shopify and Mailchimp webhooks as the vendors send them, through the real app, Kafka and store."""

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from shared.events import Envelope, kafka_key
from tests.integration.ingest.conftest import SHOPIFY_SECRET, IngestHarness
from tests.integration.kafka_support import TopicTail

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

VENDORS = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


def shopify_body(name: str) -> bytes:
    return (VENDORS / "shopify" / f"{name}.json").read_bytes()


def shopify_headers(body: bytes, topic: str, secret: str = SHOPIFY_SECRET) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }


async def test_a_signed_shopify_order_lands_as_an_order_placed_keyed_by_its_customer(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    body = shopify_body("orders-create")

    response = await ingest.client.post(
        f"/v1/webhooks/shopify/{ingest.organisation_id}-shopify",
        content=body,
        headers=shopify_headers(body, "orders/create"),
    )

    assert response.status_code == 200, response.text
    assert response.json()["published"] >= 1
    records = await facts.read(expected=response.json()["published"])
    envelopes = [Envelope.from_json_bytes(record.value) for record in records]
    orders = [envelope for envelope in envelopes if envelope.type == "parterre.shop.order_placed.v1"]
    assert len(orders) == 1
    assert orders[0].organisation_id == ingest.organisation_id
    assert orders[0].data["order_id"] == str(json.loads(body)["id"])
    assert all(record.key == kafka_key(envelope).encode() for record, envelope in zip(records, envelopes, strict=True))


async def test_orders_paid_after_orders_create_for_one_order_publishes_nothing_more(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    created = shopify_body("orders-create")
    url = f"/v1/webhooks/shopify/{ingest.organisation_id}-shopify"
    first = await ingest.client.post(url, content=created, headers=shopify_headers(created, "orders/create"))
    replay = await ingest.client.post(url, content=created, headers=shopify_headers(created, "orders/create"))

    assert first.json()["published"] >= 1
    assert replay.status_code == 200
    assert replay.json() == {"published": 0, "duplicates": first.json()["published"]}
    assert len(await facts.read_quietly(2)) == first.json()["published"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b'"', b"'", 1), headers),
        lambda body, headers: (
            body,
            {**headers, "X-Shopify-Hmac-Sha256": "AAAA" + headers["X-Shopify-Hmac-Sha256"][4:]},
        ),
        lambda body, headers: (body, {key: value for key, value in headers.items() if key != "X-Shopify-Hmac-Sha256"}),
        lambda body, headers: (body, shopify_headers(body, "orders/create", secret="another-shops-secret")),
    ],
    ids=["body changed", "signature changed", "signature missing", "wrong secret"],
)
async def test_a_tampered_shopify_webhook_is_refused_with_401_and_publishes_nothing(
    ingest: IngestHarness, facts: TopicTail, tamper: object
) -> None:
    body = shopify_body("orders-create")
    tampered_body, headers = tamper(body, shopify_headers(body, "orders/create"))  # type: ignore[operator]

    response = await ingest.client.post(
        f"/v1/webhooks/shopify/{ingest.organisation_id}-shopify", content=tampered_body, headers=headers
    )

    assert response.status_code == 401
    assert "detail" in response.json()
    assert await facts.read_quietly(1) == []


async def test_an_unknown_source_looks_exactly_like_a_wrong_signature(ingest: IngestHarness) -> None:
    body = shopify_body("orders-create")
    unknown = await ingest.client.post(
        "/v1/webhooks/shopify/nobody-here", content=body, headers=shopify_headers(body, "orders/create")
    )
    wrong = await ingest.client.post(
        f"/v1/webhooks/shopify/{ingest.organisation_id}-shopify",
        content=body,
        headers=shopify_headers(body, "orders/create", secret="nope"),
    )

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


async def test_a_mailchimp_subscribe_lands_with_its_consent_and_needs_the_source_key(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    form = (VENDORS / "mailchimp" / "subscribe.form").read_bytes()
    url = f"/v1/webhooks/mailchimp/{ingest.organisation_id}-mailchimp"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    refused = await ingest.client.post(url, content=form, headers=headers, params={"key": "psk_wrong"})
    validated = await ingest.client.get(url, params={"key": ingest.mailchimp_key})
    accepted = await ingest.client.post(url, content=form, headers=headers, params={"key": ingest.mailchimp_key})

    assert refused.status_code == 401
    assert validated.status_code == 200
    assert accepted.status_code == 200, accepted.text
    records = await facts.read(expected=accepted.json()["published"])
    types = sorted(Envelope.from_json_bytes(record.value).type for record in records)
    assert types == ["parterre.consent.granted.v1", "parterre.newsletter.subscribed.v1"]


async def test_a_mailchimp_webhook_that_is_not_a_form_gets_415(ingest: IngestHarness) -> None:
    response = await ingest.client.post(
        f"/v1/webhooks/mailchimp/{ingest.organisation_id}-mailchimp",
        json={"type": "subscribe"},
        headers={"X-Parterre-Source-Key": ingest.mailchimp_key},
    )

    assert response.status_code == 415
