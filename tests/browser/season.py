"""The patrons the console's browser tests look at, sent through ingest's event API as CloudEvents (the format of
docs/asyncapi.json's examples): one patron known to three systems whose records merge, and a probable duplicate."""

import uuid
from typing import Any

ORGANISATION = "theatre-console"
_NAMESPACE = uuid.UUID("6f1c2d0e-3a4b-4c5d-8e9f-a0b1c2d3e4f5")

PERFORMANCE = {
    "production_id": "belles-soeurs-2026",
    "title": {"fr": "Les Belles-sœurs", "en": "The Sisters-in-Law"},
    "genre": "théâtre",
    "performance_id": "belles-soeurs-2026-10-17-20h",
    "starts_at": "2026-10-17T20:00:00-04:00",
    "venue": "Salle Jean-Duceppe",
}


def _event(name: str, kind: str, time: str, data: dict[str, Any], source: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(_NAMESPACE, name)),
        "source": f"/orgs/{ORGANISATION}/sources/{source}",
        "type": kind,
        "time": time,
        "datacontenttype": "application/json",
        "data": data,
    }


def _person(source: str, **fields: Any) -> dict[str, Any]:
    return {"source": source, "country": "CA", **fields}


def helene_from_three_sources() -> list[list[dict[str, Any]]]:
    """Hélène Côté buys tickets at the box office under one email, orders from the shop under another and joins the
    newsletter with that second one: two persons. Then the box office records her second email on her customer
    record, which carries identifiers of both: they merge, and her profile holds all three systems."""
    box_office = _person(
        "billetterie",
        external_id="C-1001",
        email="helene.cote@example.org",
        first_name="Hélène",
        last_name="Côté",
        city="Montréal",
        postal_code="H2J 2L1",
        locale="fr-CA",
    )
    first = [
        _event(
            "helene-tickets",
            "parterre.ticket.purchased.v1",
            "2026-09-20T15:00:00Z",
            {
                "person": box_office,
                "order_id": "O-5001",
                "performance": PERFORMANCE,
                "tickets": [
                    {
                        "ticket_id": "T-5001-1",
                        "seat": "Parterre, rangée F, siège 12",
                        "price_category": "Régulier",
                        "price": {"amount": "54.50", "currency": "CAD"},
                    }
                ],
                "total": {"amount": "54.50", "currency": "CAD"},
                "channel": "online",
            },
            "billetterie",
        ),
        _event(
            "helene-shop",
            "parterre.shop.order_placed.v1",
            "2026-09-22T15:00:00Z",
            {
                "person": _person(
                    "boutique", external_id="S-77", email="hcote@courriel.example", first_name="Helene", last_name="Cote"
                ),
                "order_id": "SO-77",
                "lines": [
                    {
                        "sku": "PROG-2026",
                        "product_name": {"fr": "Programme de soirée"},
                        "category": "programmes",
                        "quantity": 1,
                        "unit_price": {"amount": "12.00", "currency": "CAD"},
                    }
                ],
                "total": {"amount": "12.00", "currency": "CAD"},
            },
            "boutique",
        ),
        _event(
            "helene-newsletter",
            "parterre.newsletter.subscribed.v1",
            "2026-09-23T15:00:00Z",
            {
                "person": _person("infolettre", email="hcote@courriel.example", first_name="Hélène", last_name="Côté"),
                "list_id": "infolettre-saison",
                "list_name": "Infolettre de la saison",
            },
            "infolettre",
        ),
    ]
    merging = [
        _event(
            "helene-second-email",
            "parterre.person.details_updated.v1",
            "2026-09-25T15:00:00Z",
            {
                "person": {**box_office, "email": "hcote@courriel.example"},
                "previous_email": "helene.cote@example.org",
                "changed_fields": ["email"],
            },
            "billetterie",
        )
    ]
    return [first, merging]


def gabriel_and_a_probable_duplicate() -> list[list[dict[str, Any]]]:
    """Gabriel Bouchard at the box office, then "Gabriel Bouchart" at the shop with the same postal code and another
    email: identity scores them about 0.96 (a last name one letter apart), between review and link, so it asks a
    person."""
    records = [
        _person(
            "billetterie",
            external_id="C-4001",
            email="g.bouchard@example.org",
            first_name="Gabriel",
            last_name="Bouchard",
            postal_code="H3B 1A7",
        ),
        _person(
            "boutique",
            external_id="S-4002",
            email="gbouchard@autre.example",
            first_name="Gabriel",
            last_name="Bouchart",
            postal_code="H3B 1A7",
        ),
    ]
    return [
        [
            _event(
                f"gabriel-{index}",
                "parterre.person.details_updated.v1",
                f"2026-09-2{index}T15:00:00Z",
                {"person": person, "changed_fields": ["email"]},
                person["source"],
            )
        ]
        for index, person in enumerate(records, start=1)
    ]
