"""Shopify and Mailchimp webhooks as the vendors send them, through the real app, Kafka and store."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from services.ingest.adapters.mongo import ORDER_BUYERS
from shared.events import Envelope, kafka_key
from shared.settings import ServiceSettings
from shared.topics import PRIVACY_REQUESTS
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
    assert replay.json() == {"published": 0, "duplicates": first.json()["published"], "awaiting_order": 0}
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


async def test_a_mailchimp_form_whose_escapes_are_not_utf8_gets_400_and_publishes_nothing(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    form = (VENDORS / "mailchimp" / "subscribe.form").read_text()
    url = f"/v1/webhooks/mailchimp/{ingest.organisation_id}-mailchimp"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    # `É` escaped as Windows-1252 writes it (one byte, %C9), then as UTF-8 does (%C3%89).
    latin = form.replace("data%5Bmerges%5D%5BFNAME%5D=", "data%5Bmerges%5D%5BFNAME%5D=%C9", 1)
    utf8 = form.replace("data%5Bmerges%5D%5BFNAME%5D=", "data%5Bmerges%5D%5BFNAME%5D=%C3%89", 1)
    assert latin != form, "the vendor's form names the first name"

    refused = await ingest.client.post(url, content=latin, headers=headers, params={"key": ingest.mailchimp_key})
    accepted = await ingest.client.post(url, content=utf8, headers=headers, params={"key": ingest.mailchimp_key})

    assert refused.status_code == 400
    assert refused.json()["detail"]["code"] == "malformed_form"
    assert accepted.status_code == 200, accepted.text
    records = await facts.read(expected=accepted.json()["published"])
    first_names = {Envelope.from_json_bytes(record.value).data["person"]["first_name"] for record in records}
    assert len(first_names) == 1
    assert first_names.pop().startswith("É")


async def test_a_mailchimp_webhook_that_is_not_a_form_gets_415(ingest: IngestHarness) -> None:
    response = await ingest.client.post(
        f"/v1/webhooks/mailchimp/{ingest.organisation_id}-mailchimp",
        json={"type": "subscribe"},
        headers={"X-Parterre-Source-Key": ingest.mailchimp_key},
    )

    assert response.status_code == 415


async def _post_shopify(ingest: IngestHarness, name: str, topic: str, *, body: bytes | None = None) -> dict[str, int]:
    body = body or shopify_body(name)
    response = await ingest.client.post(
        f"/v1/webhooks/shopify/{ingest.organisation_id}-shopify", content=body, headers=shopify_headers(body, topic)
    )
    assert response.status_code == 200, response.text
    answer: dict[str, int] = response.json()
    return answer


def _of_type(records: list[ConsumerRecord], type_name: str) -> list[tuple[bytes | None, Envelope]]:
    envelopes = [(record.key, Envelope.from_json_bytes(record.value)) for record in records]
    return [(key, envelope) for key, envelope in envelopes if envelope.type == type_name]


async def test_a_refund_after_its_order_lands_as_the_orders_customer_on_the_same_key(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    placed = await _post_shopify(ingest, "orders-create", "orders/create")
    refunded = await _post_shopify(ingest, "refunds-create", "refunds/create")

    assert refunded == {"published": 1, "duplicates": 0, "awaiting_order": 0}
    records = await facts.read(expected=placed["published"] + 1)
    [(order_key, order)] = _of_type(records, "parterre.shop.order_placed.v1")
    [(refund_key, refund)] = _of_type(records, "parterre.shop.order_refunded.v1")
    assert refund.data["person"]["external_id"] == order.data["person"]["external_id"] == "7012345678"
    assert refund.data["person"]["source"] == order.data["person"]["source"]
    assert refund_key == order_key


async def test_a_cancelled_order_lands_once_as_its_customers_cancellation_on_the_orders_key(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    placed = await _post_shopify(ingest, "orders-create", "orders/create")
    cancelled = await _post_shopify(ingest, "orders-cancelled", "orders/cancelled")
    told_again = await _post_shopify(ingest, "orders-cancelled", "orders/cancelled")

    assert cancelled == {"published": 1, "duplicates": 0, "awaiting_order": 0}
    assert told_again == {"published": 0, "duplicates": 1, "awaiting_order": 0}
    records = await facts.read(expected=placed["published"] + 1)
    [(order_key, order)] = _of_type(records, "parterre.shop.order_placed.v1")
    [(cancellation_key, cancellation)] = _of_type(records, "parterre.shop.order_cancelled.v1")
    assert cancellation.data["order_id"] == order.data["order_id"]
    assert cancellation.data["person"]["external_id"] == "7012345678"
    assert cancellation_key == order_key


async def test_a_refund_waiting_for_an_order_known_only_by_its_cancellation_lands_with_the_cancellation(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    # An order placed before the shop was connected: Shopify sends its refund and its cancellation, never the order.
    early = await _post_shopify(ingest, "refunds-create", "refunds/create")
    cancelled = await _post_shopify(ingest, "orders-cancelled", "orders/cancelled")

    assert early["awaiting_order"] == 1
    assert cancelled == {"published": 2, "duplicates": 0, "awaiting_order": 0}
    records = await facts.read(expected=2)
    [(cancellation_key, _)] = _of_type(records, "parterre.shop.order_cancelled.v1")
    [(refund_key, refund)] = _of_type(records, "parterre.shop.order_refunded.v1")
    assert refund.data["person"]["external_id"] == "7012345678"
    assert refund_key == cancellation_key
    assert await _post_shopify(ingest, "refunds-create", "refunds/create") == {
        "published": 0,
        "duplicates": 1,
        "awaiting_order": 0,
    }


async def test_a_cancellation_goes_to_its_orders_buyer_after_staff_changed_the_orders_customer(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    reassigned = json.loads(shopify_body("orders-cancelled"))
    reassigned["customer"] = {**reassigned["customer"], "id": 7099999999, "email": "autre@example.ca"}

    placed = await _post_shopify(ingest, "orders-create", "orders/create")
    await _post_shopify(ingest, "orders-cancelled", "orders/cancelled", body=json.dumps(reassigned).encode())

    records = await facts.read(expected=placed["published"] + 1)
    [(order_key, _)] = _of_type(records, "parterre.shop.order_placed.v1")
    [(cancellation_key, cancellation)] = _of_type(records, "parterre.shop.order_cancelled.v1")
    assert cancellation.data["person"]["external_id"] == "7012345678"
    assert cancellation_key == order_key


async def test_an_order_paid_late_with_its_cancellation_and_another_customer_leaves_its_buyer_unchanged(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    reassigned = json.loads(shopify_body("orders-cancelled"))
    reassigned["customer"] = {**reassigned["customer"], "id": 7099999999, "email": "autre@example.ca"}

    placed = await _post_shopify(ingest, "orders-create", "orders/create")
    late = await _post_shopify(ingest, "orders-cancelled", "orders/paid", body=json.dumps(reassigned).encode())
    refunded = await _post_shopify(ingest, "refunds-create", "refunds/create")

    assert refunded["awaiting_order"] == 0
    records = await facts.read(expected=placed["published"] + late["published"] + 1)
    [(_, cancellation)] = _of_type(records, "parterre.shop.order_cancelled.v1")
    [(_, refund)] = _of_type(records, "parterre.shop.order_refunded.v1")
    assert cancellation.data["person"]["external_id"] == refund.data["person"]["external_id"] == "7012345678"


async def test_a_refund_before_its_order_waits_and_lands_with_the_order_as_its_customer(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    early = await _post_shopify(ingest, "refunds-create", "refunds/create")
    retried = await _post_shopify(ingest, "refunds-create", "refunds/create")

    assert early == retried == {"published": 0, "duplicates": 0, "awaiting_order": 1}
    assert await facts.read_quietly(2) == []

    placed = await _post_shopify(ingest, "orders-create", "orders/create")
    paid = await _post_shopify(ingest, "orders-paid", "orders/paid")

    records = await facts.read(expected=placed["published"])
    [(order_key, _)] = _of_type(records, "parterre.shop.order_placed.v1")
    [(refund_key, refund)] = _of_type(records, "parterre.shop.order_refunded.v1")
    assert refund.data["person"]["external_id"] == "7012345678"
    assert refund_key == order_key
    # Once published, the refund waits no more: the order paid afterwards repeats nothing.
    assert paid["published"] == 0
    assert await facts.read_quietly(2) == []


def _walk_in(name: str) -> bytes:
    """An order of the fixture `name` as a walk-in sale at the shop's point of sale: it names no one."""
    order = json.loads(shopify_body(name))
    for field in ("customer", "email", "contact_email", "phone", "billing_address", "shipping_address"):
        order[field] = None
    order["source_name"] = "pos"
    return json.dumps(order).encode()


async def test_the_refunds_of_a_walk_in_sale_are_no_one_s_and_wait_for_nothing(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    early = await _post_shopify(ingest, "refunds-create", "refunds/create")
    sale = await _post_shopify(ingest, "orders-create", "orders/create", body=_walk_in("orders-create"))
    # Shopify sends a refund again until it is acknowledged: it waits no more, and is published for no one.
    again = await _post_shopify(ingest, "refunds-create", "refunds/create")

    assert early == {"published": 0, "duplicates": 0, "awaiting_order": 1}
    assert sale == {"published": 0, "duplicates": 0, "awaiting_order": 0}
    assert again == {"published": 0, "duplicates": 0, "awaiting_order": 0}
    assert await facts.read_quietly(2) == []
    ignored = ingest.app.state.runtime.registry.get_sample_value(
        "parterre_ingest_events_total",
        {
            "organisation": ingest.organisation_id,
            "source": f"{ingest.organisation_id}-shopify",
            "type": "parterre.shop.order_refunded.v1",
            "outcome": "ignored",
            "reason": "order_names_nobody",
        },
    )
    assert ignored == 2, "the refund let go with the sale, and the one sent again after it"
    stored = await ingest.app.state.runtime.database[ORDER_BUYERS].find_one({"nobody": True})
    assert stored is not None
    assert not stored.get("waiting_refunds")
    # Staff name the customer afterwards: the order is theirs, and a refund from then on too.
    named = await _post_shopify(ingest, "orders-paid", "orders/paid")
    refunded = await _post_shopify(ingest, "refunds-create", "refunds/create")
    assert named["published"] >= 1
    assert refunded == {"published": 1, "duplicates": 0, "awaiting_order": 0}


async def test_a_customer_redact_makes_ingest_forget_who_placed_the_customers_orders(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    await _post_shopify(ingest, "orders-create", "orders/create")
    erasure = await _post_shopify(ingest, "customers-redact", "customers/redact")

    refunded = await _post_shopify(ingest, "refunds-create", "refunds/create")

    assert erasure["published"] == 1
    assert refunded == {"published": 0, "duplicates": 0, "awaiting_order": 1}
    source = f"{ingest.organisation_id}-shopify"
    assert await ingest.context.orders.buyer(ingest.organisation_id, source, "5512345678901") is None


async def test_a_shop_redact_is_published_as_a_source_redaction_recorded_on_the_source_and_forgets_its_orders(
    ingest: IngestHarness, facts: TopicTail, settings: ServiceSettings
) -> None:
    source = f"{ingest.organisation_id}-shopify"
    requests = await TopicTail(settings.kafka_bootstrap, PRIVACY_REQUESTS.name, ingest.organisation_id).start()
    try:
        await _post_shopify(ingest, "orders-create", "orders/create")
        await _post_shopify(ingest, "refunds-create", "refunds/create")
        redacted = await _post_shopify(ingest, "shop-redact", "shop/redact")
        retried = await _post_shopify(ingest, "shop-redact", "shop/redact")

        assert redacted == {"published": 1, "duplicates": 0, "awaiting_order": 0}
        assert retried == {"published": 0, "duplicates": 1, "awaiting_order": 0}
        [record] = await requests.read(expected=1)
        assert await requests.read_quietly(1) == []
    finally:
        await requests.stop()
    request = Envelope.from_json_bytes(record.value)
    assert request.type == "parterre.privacy.source_redaction_requested.v1"
    assert request.data["source"] == source
    assert request.data["upstream_account_id"] == "55123456"
    assert record.key == source.encode()
    # Nothing about a person went to identity's topic.
    assert _of_type(await facts.read_quietly(1), "parterre.privacy.source_redaction_requested.v1") == []
    registered = await ingest.context.sources.find(source)
    assert registered is not None
    assert registered.redaction_requested_at is not None
    # The store keeps milliseconds.
    assert abs(registered.redaction_requested_at - request.time) < timedelta(milliseconds=1)
    assert await ingest.context.orders.buyer(ingest.organisation_id, source, "5512345678901") is None


async def test_a_signed_shopify_body_escaping_a_lone_surrogate_gets_400_and_publishes_nothing(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    body = shopify_body("customers-create").replace(b'"first_name": "', b'"first_name": "\\ud800', 1)
    assert b"\\ud800" in body

    response = await ingest.client.post(
        f"/v1/webhooks/shopify/{ingest.organisation_id}-shopify",
        content=body,
        headers=shopify_headers(body, "customers/create"),
    )

    assert response.status_code == 400, response.text
    assert response.json()["detail"]["code"] == "malformed_json"
    assert await facts.read_quietly(1) == []
