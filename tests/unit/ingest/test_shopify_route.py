"""The Shopify webhook route: a signed body that cannot be read is refused with a 4xx, never a server error."""

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from fastapi import HTTPException
from prometheus_client import CollectorRegistry

from services.ingest.domain.sources import Source, SourceKind
from services.ingest.entrypoints.http import post_shopify_webhook
from services.ingest.metrics import IngestMetrics

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
