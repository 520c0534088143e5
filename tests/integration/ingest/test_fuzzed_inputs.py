"""Whatever a client sends to the webhook and upload endpoints, the answer is never a server error."""

import json
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.ingest.conftest import IngestHarness
from tests.integration.ingest.test_webhooks import VENDORS, shopify_headers

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ORDER = json.loads((VENDORS / "shopify" / "orders-create.json").read_bytes())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=15),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=15,
)


@FUZZ
@given(
    replaced=st.dictionaries(st.sampled_from(sorted(ORDER)), JSON_VALUES, max_size=4),
    topic=st.sampled_from(
        [
            "orders/create",
            "orders/paid",
            "orders/cancelled",
            "refunds/create",
            "customers/update",
            "customers/redact",
            "customers/data_request",
            "app/uninstalled",
            "",
        ]
    ),
)
async def test_signed_but_mangled_shopify_payloads_never_produce_a_server_error(
    ingest: IngestHarness, replaced: dict[str, object], topic: str
) -> None:
    body = json.dumps({**ORDER, **replaced}).encode()
    response = await ingest.client.post(
        f"/v1/webhooks/shopify/{ingest.organisation_id}-shopify", content=body, headers=shopify_headers(body, topic)
    )

    assert response.status_code in {200, 400, 422}, response.text


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "fired_at",
                "data[email]",
                "data[list_id]",
                "data[merges][FNAME]",
                "data[old_email]",
                "data[new_email]",
                "data[reason]",
                "data[action]",
                "data[merges][LANGUAGE]",
                "other",
            ]
        ),
        st.text(max_size=30),
        max_size=8,
    )
)
async def test_any_mailchimp_form_never_produces_a_server_error(ingest: IngestHarness, form: dict[str, str]) -> None:
    response = await ingest.client.post(
        f"/v1/webhooks/mailchimp/{ingest.organisation_id}-mailchimp",
        content=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Parterre-Source-Key": ingest.mailchimp_key},
    )

    assert response.status_code in {200, 400, 422}, response.text


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.lists(st.lists(st.text(max_size=12), max_size=9), max_size=6).map(
            lambda rows: "\n".join(
                [";".join(["Prénom", "Nom", "Courriel", "Spectacle", "Date", "Montant", "Quantité"])]
                + [";".join(row) for row in rows]
            ).encode("utf-8", errors="replace")
        ),
    )
)
async def test_any_uploaded_file_never_produces_a_server_error(ingest: IngestHarness, body: bytes) -> None:
    response = await ingest.client.post(
        f"/v1/imports/boxoffice/{ingest.organisation_id}-boxoffice",
        content=body,
        params={"dry_run": "true"},
        headers={"Content-Type": "text/csv", **ingest.authorised()},
    )

    assert response.status_code in {200, 400, 422}, response.text
