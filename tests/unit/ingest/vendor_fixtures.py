"""Loading the project's own vendor fixtures (tests/fixtures/vendors) the way the HTTP layer receives them."""

import json
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.events import Envelope

VENDORS = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"
ORGANISATION = "theatre-du-nord"
RECEIVED_AT = datetime(2026, 11, 20, 15, 0, 0, tzinfo=UTC)


def shopify_body(name: str) -> bytes:
    return (VENDORS / "shopify" / f"{name}.json").read_bytes()


def shopify_payload(name: str) -> dict[str, Any]:
    payload = json.loads(shopify_body(name))
    assert isinstance(payload, dict)
    return payload


def mailchimp_form(name: str) -> dict[str, str]:
    """The form as the HTTP layer decodes it: bracketed keys kept flat."""
    body = (VENDORS / "mailchimp" / f"{name}.form").read_text()
    return dict(urllib.parse.parse_qsl(body, keep_blank_values=True))


def boxoffice_path(name: str) -> Path:
    return VENDORS / "boxoffice" / name


def types_of(envelopes: list[Envelope]) -> list[str]:
    return [envelope.type for envelope in envelopes]
