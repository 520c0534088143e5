"""The Shopify webhook route: a signed body that cannot be read is refused with a 4xx, never a server error."""

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import HTTPException
from prometheus_client import CollectorRegistry

from services.ingest.domain.sources import Source, SourceKind
from services.ingest.entrypoints.http import post_shopify_webhook
from services.ingest.metrics import IngestMetrics
from services.ingest.ports import Nobody
from shared.events import Envelope, PersonRef
from tests.unit.ingest.recording_ports import NewIdsLedger, RecordingSink
from tests.unit.ingest.vendor_fixtures import shopify_body

SECRET = "shpss_app_secret"
SHOP = Source("boutique", "theatre-du-nord", SourceKind.SHOPIFY, signing_secrets=(SECRET,))


def _signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


class _Sources:
    async def find(self, source_id: str) -> Source | None:
        return SHOP if source_id == SHOP.source_id else None


def _request(body: bytes) -> SimpleNamespace:
    async def stream() -> AsyncIterator[bytes]:
        yield body

    return SimpleNamespace(headers={"content-length": str(len(body))}, stream=stream)


class _FirstOrders:
    """No order was seen before, and no refund waits for one."""

    async def buyer(self, organisation_id: str, source: str, order_id: str) -> PersonRef | None:
        return None

    async def remember(
        self, organisation_id: str, source: str, order_id: str, buyer: PersonRef | Nobody
    ) -> list[Envelope]:
        return []

    async def release(self, organisation_id: str, source: str, order_id: str, refund_ids: Sequence[str]) -> None:
        return None


def _context(registry: CollectorRegistry | None = None) -> SimpleNamespace:
    # No sink, ledger or order store: none of these requests may reach them.
    return SimpleNamespace(
        sources=_Sources(),
        sink=None,
        ledger=None,
        orders=None,
        settings=SimpleNamespace(max_webhook_bytes=1024 * 1024, publish_timeout_seconds=1.0),
        metrics=IngestMetrics(registry or CollectorRegistry()),
    )


async def _post(body: bytes, topic: str = "orders/create") -> HTTPException:
    with pytest.raises(HTTPException) as refused:
        await post_shopify_webhook(
            SHOP.source_id,
            _request(body),  # type: ignore[arg-type]
            _context(),  # type: ignore[arg-type]
            x_shopify_hmac_sha256=_signature(body),
            x_shopify_topic=topic,
        )
    return refused.value


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 450789469, "total_price": ' + b"9" * 5000 + b"}",
        b'{"line_items": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=["integer-of-5000-digits", "arrays-nested-5000-deep"],
)
async def test_a_signed_body_with_a_number_too_long_or_nesting_too_deep_is_refused_as_malformed_json(
    body: bytes,
) -> None:
    refused = await _post(body)

    assert refused.status_code == 400
    assert isinstance(refused.detail, dict)
    assert refused.detail["code"] == "malformed_json"


async def test_a_signed_body_read_whole_but_nested_too_deep_to_store_is_refused_saying_so_not_as_a_surrogate() -> None:
    # About 300 levels: Python reads it, the writer storing and publishing it stops at about 255.
    body = b'{"id": 450789469, "note_attributes": ' + b"[" * 300 + b"]" * 300 + b"}"

    refused = await _post(body)

    assert refused.status_code == 400
    assert isinstance(refused.detail, dict)
    assert refused.detail["code"] == "malformed_json"
    assert refused.detail["message"] == {
        "en": "The body holds values nested too deep to be stored.",
        "fr": "Le corps contient des valeurs trop imbriquées pour être enregistrées.",
    }


def _publishing_context(sink: RecordingSink) -> SimpleNamespace:
    return SimpleNamespace(
        sources=_Sources(),
        sink=sink,
        ledger=NewIdsLedger(),
        orders=_FirstOrders(),
        settings=SimpleNamespace(max_webhook_bytes=1024 * 1024, publish_timeout_seconds=1.0),
        metrics=IngestMetrics(CollectorRegistry()),
    )


async def _deliver(body: bytes, sink: RecordingSink, topic: str = "orders/create") -> dict[str, Any]:
    return await post_shopify_webhook(
        SHOP.source_id,
        _request(body),  # type: ignore[arg-type]
        _publishing_context(sink),  # type: ignore[arg-type]
        x_shopify_hmac_sha256=_signature(body),
        x_shopify_topic=topic,
    )


# The order's first tax rate, a float Shopify sends as a JSON number.
ORDINARY_FLOAT = b'"rate": 0.05,'


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (b"NaN", "NaN is not a JSON value"),
        (b"Infinity", "Infinity is not a JSON value"),
        (b"-Infinity", "-Infinity is not a JSON value"),
        (b"1e400", "1e400, a number too large"),
    ],
    ids=["NaN", "Infinity", "minus-Infinity", "1e400"],
)
async def test_a_signed_order_with_a_value_json_has_not_or_a_number_beyond_a_double_is_refused_as_malformed_json(
    value: bytes, named: str
) -> None:
    # Python's reader takes these, and reads `1e400` as infinity: the order would travel on with `null` in its place.
    body = shopify_body("orders-create").replace(ORDINARY_FLOAT, b'"rate": ' + value + b",", 1)
    sink = RecordingSink()

    with pytest.raises(HTTPException) as refused:
        await _deliver(body, sink)

    assert refused.value.status_code == 400
    assert isinstance(refused.value.detail, dict)
    assert refused.value.detail["code"] == "malformed_json"
    assert named in refused.value.detail["message"]["en"]
    assert value.decode() in refused.value.detail["message"]["fr"]
    assert sink.published == []


async def test_a_number_too_large_in_a_signed_body_is_named_cut_short_not_echoed_whole() -> None:
    number = b"1" + b"0" * 60_000 + b".5"
    body = shopify_body("orders-create").replace(ORDINARY_FLOAT, b'"rate": ' + number + b",", 1)

    with pytest.raises(HTTPException) as refused:
        await _deliver(body, RecordingSink())

    assert refused.value.status_code == 400
    assert isinstance(refused.value.detail, dict)
    assert refused.value.detail["code"] == "malformed_json"
    assert len(refused.value.detail["message"]["en"]) < 200
    assert len(refused.value.detail["message"]["fr"]) < 200
    assert "1000000000" in refused.value.detail["message"]["en"]


async def test_a_signed_order_with_ordinary_floats_is_accepted_and_published() -> None:
    body = shopify_body("orders-create")
    assert ORDINARY_FLOAT in body
    sink = RecordingSink()

    answer = await _deliver(body, sink)

    assert answer["published"] == len(sink.published) > 0
    assert "ignored" not in answer


async def test_a_topic_parterre_does_not_read_is_acknowledged_ignored_and_counted_so_shopify_stops_retrying() -> None:
    # A topic subscribed by mistake: refused, Shopify would retry it for hours, then delete the subscription.
    body = b'{"id": 632910392, "title": "IPod Nano - 8GB"}'
    registry = CollectorRegistry()

    answer = await post_shopify_webhook(
        SHOP.source_id,
        _request(body),  # type: ignore[arg-type]
        _context(registry),  # type: ignore[arg-type]
        x_shopify_hmac_sha256=_signature(body),
        x_shopify_topic="products/create",
    )

    assert answer == {"published": 0, "duplicates": 0, "awaiting_order": 0, "ignored": "unsupported_topic"}
    labels = {
        "organisation": SHOP.organisation_id,
        "source": SHOP.source_id,
        "type": "",
        "outcome": "ignored",
        "reason": "unsupported_topic",
    }
    assert registry.get_sample_value("parterre_ingest_events_total", labels) == 1


async def test_a_refund_whose_payments_back_all_failed_is_acknowledged_unpublished_and_counted_with_why() -> None:
    # No money went back: nothing to tell the profile, and refused, Shopify would retry it, then drop the webhook.
    refund = json.loads(shopify_body("refunds-create"))
    refund["transactions"] = [{**refund["transactions"][0], "status": "error"}]
    body = json.dumps(refund).encode()
    registry = CollectorRegistry()
    sink = RecordingSink()
    context = _publishing_context(sink)
    context.metrics = IngestMetrics(registry)

    answer = await post_shopify_webhook(
        SHOP.source_id,
        _request(body),  # type: ignore[arg-type]
        context,  # type: ignore[arg-type]
        x_shopify_hmac_sha256=_signature(body),
        x_shopify_topic="refunds/create",
    )

    assert answer == {"published": 0, "duplicates": 0, "awaiting_order": 0}
    assert sink.published == []
    labels = {
        "organisation": SHOP.organisation_id,
        "source": SHOP.source_id,
        "type": "parterre.shop.order_refunded.v1",
        "outcome": "ignored",
        "reason": "refund_not_paid_back",
    }
    assert registry.get_sample_value("parterre_ingest_events_total", labels) == 1


def _order_body(**customer_details: object) -> bytes:
    """The order with the customer's details replaced, and none given elsewhere in it to stand in for them."""
    order = json.loads(shopify_body("orders-create"))
    order["customer"].update(customer_details)
    for name in ("email", "contact_email", "phone"):
        order.pop(name, None)
    order["billing_address"]["phone"] = None
    return json.dumps(order).encode()


async def test_an_order_with_unreadable_buyer_details_is_published_and_the_answer_names_what_was_left_out() -> None:
    body = _order_body(email="helene at example.ca", phone="514 555 0142 " * 4)
    registry = CollectorRegistry()
    sink = RecordingSink()
    context = _publishing_context(sink)
    context.metrics = IngestMetrics(registry)

    answer = await post_shopify_webhook(
        SHOP.source_id,
        _request(body),  # type: ignore[arg-type]
        context,  # type: ignore[arg-type]
        x_shopify_hmac_sha256=_signature(body),
        x_shopify_topic="orders/create",
    )

    assert answer["published"] == len(sink.published) == 1
    assert [event.type for event in sink.published] == ["parterre.shop.order_placed.v1"]
    person = sink.published[0].data["person"]
    assert (person["external_id"], person.get("email"), person.get("phone")) == ("7012345678", None, None)
    assert answer["left_out"] == [
        {
            "field": "customer.email",
            "reason": "An email address has one @ and no spaces",
            "reason_fr": "Une adresse courriel a un seul @ et aucune espace",
            "code": "email_invalid",
        },
        {
            "field": "customer.phone",
            "reason": "String should have at most 40 characters",
            "reason_fr": "doit contenir au plus 40 caractères",
            "code": "string_too_long",
        },
    ]
    labels = {"organisation": SHOP.organisation_id, "source": SHOP.source_id}
    counted = {"field": "customer.email", "reason": "email_invalid", **labels}
    assert registry.get_sample_value("parterre_ingest_details_left_out_total", counted) == 1


async def test_an_order_whose_details_all_read_is_answered_without_left_out() -> None:
    answer = await _deliver(shopify_body("orders-create"), RecordingSink())

    assert answer == {"published": 2, "duplicates": 0, "awaiting_order": 0}


async def test_a_guest_order_whose_email_cannot_be_read_is_refused_naming_it_as_it_names_the_buyer() -> None:
    order = json.loads(shopify_body("orders-create"))
    order["customer"] = None
    order["email"] = "helene at example.ca"
    # With no other address in the order to stand in for it.
    del order["contact_email"]
    sink = RecordingSink()

    with pytest.raises(HTTPException) as refused:
        await _deliver(json.dumps(order).encode(), sink)

    assert refused.value.status_code == 422
    assert isinstance(refused.value.detail, dict)
    assert refused.value.detail["code"] == "invalid_payload"
    assert [field["field"] for field in refused.value.detail["fields"]] == ["email"]
    assert sink.published == []
