"""What ingest sends to Kafka, pinned byte for byte: ids, keys, headers and JSON of every fixture row, API event and
Shopify webhook.

Ids are how re-imports and replays are de-duplicated, so any change to them, or to the JSON consumers read, must
be deliberate. After one, regenerate the pinned file with `PARTERRE_UPDATE_PINNED=1 pytest` and review its diff.
"""

import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.ingest.domain.api_events import EventLimits, read_api_events
from services.ingest.domain.boxoffice import AcceptedRow, load_mapping, read_boxoffice_csv
from services.ingest.domain.shopify import read_shopify_webhook
from shared.events import Envelope, all_event_types
from shared.kafka import record_for
from tests.unit.ingest.vendor_fixtures import ORGANISATION, boxoffice_path, shopify_payload

PINNED = Path(__file__).with_name("pinned_ingest_output.jsonl")
SOURCE = "billetterie-principale"
IMPORTED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
EXPORTS = (
    "billetterie-fr-windows-1252.csv",
    "attendee-report-en-utf8-bom.csv",
    "billetterie-tab.tsv",
    "zeffy-payments.csv",
    "billetterie-lignes-brisees.csv",
    "export-personnalise.csv",
)
SHOPIFY_SOURCE = "nord-shopify"
# Each Shopify fixture and the topic it is delivered under.
SHOPIFY_WEBHOOKS = (
    ("orders-create.json", "orders/create"),
    ("orders-create-no-email.json", "orders/create"),
    ("orders-paid.json", "orders/paid"),
    ("orders-updated.json", "orders/updated"),
    ("orders-cancelled.json", "orders/cancelled"),
    ("refunds-create.json", "refunds/create"),
    ("customers-create.json", "customers/create"),
    ("customers-update.json", "customers/update"),
    ("customers-redact.json", "customers/redact"),
    ("customers-data_request.json", "customers/data_request"),
    ("shop-redact.json", "shop/redact"),
)


def generated_export() -> bytes:
    """Rows of every kind the bench and real exports have: orders of several rows, no order number, bad cells."""
    header = "Type;Prénom;Nom;Courriel;Téléphone;Spectacle;Date de représentation;Montant;Quantité;No de commande;"
    header += "Catégorie;Siège;Langue;Pays;Canal;Date de fin\r\n"
    kinds = ("billet", "don", "adhésion", "abonnement", "billet", "billet")
    lines = [header]
    for number in range(60):
        kind = kinds[number % len(kinds)]
        amount = "quarante" if number % 17 == 16 else f"{40 + number % 60},{number % 100:02d} $"
        order = "" if number % 5 == 4 else f"CMD-{number // 2:05d}"
        lines.append(
            f"{kind};Hélène{number % 3};D'Amours;patron{number % 7}@Example.ca;514 555-01{number % 10}0;"
            f"Les Belles-sœurs {number % 2};{1 + number % 28:02d}/10/2026 {'19:30' if number % 3 else ''};"
            f"{amount};{1 + number % 4};{order};{'Étudiant' if number % 4 == 1 else ''};"
            f"{'A-12' if number % 9 == 0 else ''};"
            f"{('FR', 'en-CA', 'français', 'xx-?')[number % 4]};{('CA', 'Canada', 'ZZ', '')[number % 4]};"
            f"{('en ligne', 'guichet', '', 'téléphone')[number % 4]};{'31/08/2027' if number % 6 == 2 else ''}\r\n"
        )
    return "".join(lines).encode("cp1252")


def api_batch() -> bytes:
    ticket = next(event for event in all_event_types() if event.name == "parterre.ticket.purchased.v1")
    events: list[dict[str, Any]] = [
        {
            "specversion": "1.0",
            "id": f"evt-{number}",
            "source": "/orgs/theatre-du-nord/sources/billetterie",
            "type": ticket.name,
            "time": f"2026-10-{1 + number:02d}T19:30:00-04:00",
            **({"correlationid": "import-7"} if number % 2 else {}),
            "data": {**ticket.example, "order_id": f"o-{number}"},
        }
        for number in range(5)
    ]
    events.append({**events[0], "data": {**events[0]["data"], "total": {"amount": "-1", "currency": "CAD"}}})
    return json.dumps(events).encode()


def _record_lines(envelope: Envelope) -> dict[str, object]:
    record = record_for(envelope)
    return {
        "id": envelope.id,
        "topic": record.topic,
        "key": record.key,
        "headers": dict(record.headers),
        "value": record.value.decode(),
    }


def produced() -> Iterator[dict[str, object]]:
    mapping = load_mapping(boxoffice_path("export-personnalise.mapping.yaml").read_text())
    exports = [(name, boxoffice_path(name).read_bytes()) for name in EXPORTS] + [("generated", generated_export())]
    for name, content in exports:
        outcomes = read_boxoffice_csv(
            io.BytesIO(content),
            organisation_id=ORGANISATION,
            source=SOURCE,
            mapping=mapping if name == "export-personnalise.csv" else None,
            imported_at=IMPORTED_AT,
        )
        for outcome in outcomes:
            if isinstance(outcome, AcceptedRow):
                for envelope in outcome.envelopes:
                    yield {"file": name, "row": outcome.row_number, **_record_lines(envelope)}
            else:
                errors = [error.model_dump() for error in outcome.errors]
                yield {"file": name, "row": outcome.row_number, "rejected": errors}
    verdicts = read_api_events(
        api_batch(), "application/json", organisation_id=ORGANISATION, received_at=IMPORTED_AT, limits=EventLimits()
    )
    for verdict in verdicts:
        if verdict.envelope is not None:
            yield {"api": verdict.index, **_record_lines(verdict.envelope)}
        else:
            yield {"api": verdict.index, "rejected": [error.model_dump() for error in verdict.errors]}
    for name, topic in SHOPIFY_WEBHOOKS:
        envelopes = read_shopify_webhook(
            topic,
            shopify_payload(name.removesuffix(".json")),
            organisation_id=ORGANISATION,
            source=SHOPIFY_SOURCE,
            received_at=IMPORTED_AT,
        ).events
        for envelope in envelopes:
            yield {"shopify": name, "topic_header": topic, **_record_lines(envelope)}


def test_ingest_sends_exactly_the_pinned_records_for_the_fixture_exports_an_api_batch_and_shopify_webhooks() -> None:
    lines = [json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n" for line in produced()]
    if os.environ.get("PARTERRE_UPDATE_PINNED"):
        PINNED.write_text("".join(lines), encoding="utf-8")
        pytest.skip("pinned output rewritten")

    pinned = PINNED.read_text(encoding="utf-8").splitlines(keepends=True)

    assert len(lines) == len(pinned)
    for line, expected in zip(lines, pinned, strict=True):
        assert line == expected
