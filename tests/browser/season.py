"""The patrons the console's browser tests look at, sent through ingest's event API as CloudEvents (the format of
docs/asyncapi.json's examples): one patron known to three systems whose records merge, and a probable duplicate."""

import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True)
class MergedPatron:
    """A patron known to three systems under two emails, whose records merge once one record carries both."""

    tag: str
    first_name: str
    last_name: str
    # The name as the shop has it: without its accents.
    plain_first_name: str
    plain_last_name: str
    box_office_email: str
    shop_email: str
    box_office_id: str

    def batches(self) -> list[list[dict[str, Any]]]:
        """She buys tickets at the box office under one email, orders from the shop under another and joins the
        newsletter with that second one: two persons. Then the box office records her second email on her customer
        record, which now carries identifiers of both: they merge, and her profile holds all three systems."""
        box_office = _person(
            "billetterie",
            external_id=self.box_office_id,
            email=self.box_office_email,
            first_name=self.first_name,
            last_name=self.last_name,
            city="Montréal",
            postal_code="H2J 2L1",
            locale="fr-CA",
        )
        order = f"O-{self.tag}"
        first = [
            _event(
                f"{self.tag}-tickets",
                "parterre.ticket.purchased.v1",
                "2026-09-20T15:00:00Z",
                {
                    "person": box_office,
                    "order_id": order,
                    "performance": PERFORMANCE,
                    "tickets": [
                        {
                            "ticket_id": f"T-{self.tag}-1",
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
                f"{self.tag}-shop",
                "parterre.shop.order_placed.v1",
                "2026-09-22T15:00:00Z",
                {
                    "person": _person(
                        "boutique",
                        external_id=f"S-{self.tag}",
                        email=self.shop_email,
                        first_name=self.plain_first_name,
                        last_name=self.plain_last_name,
                    ),
                    "order_id": f"SO-{self.tag}",
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
                f"{self.tag}-newsletter",
                "parterre.newsletter.subscribed.v1",
                "2026-09-23T15:00:00Z",
                {
                    "person": _person(
                        "infolettre", email=self.shop_email, first_name=self.first_name, last_name=self.last_name
                    ),
                    "list_id": "infolettre-saison",
                    "list_name": "Infolettre de la saison",
                },
                "infolettre",
            ),
        ]
        merging = [
            _event(
                f"{self.tag}-second-email",
                "parterre.person.details_updated.v1",
                "2026-09-25T15:00:00Z",
                {
                    "person": {**box_office, "email": self.shop_email},
                    "previous_email": self.box_office_email,
                    "changed_fields": ["email"],
                },
                "billetterie",
            )
        ]
        return [first, merging]


HELENE = MergedPatron(
    tag="helene",
    first_name="Hélène",
    last_name="Côté",
    plain_first_name="Helene",
    plain_last_name="Cote",
    box_office_email="helene.cote@example.org",
    shop_email="hcote@courriel.example",
    box_office_id="C-1001",
)
EMILE = MergedPatron(
    tag="emile",
    first_name="Émile",
    last_name="Bélanger",
    plain_first_name="Emile",
    plain_last_name="Belanger",
    box_office_email="emile.belanger@example.org",
    shop_email="ebelanger@courriel.example",
    box_office_id="C-2001",
)


def gabriel_and_a_probable_duplicate() -> list[list[dict[str, Any]]]:
    """Gabriel Bouchard at the box office, then "G. Bouchart" at the shop with the same postal code and another
    email: identity scores them about 0.96 (an initial, a last name one letter apart), between review and link, so
    it asks a person."""
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
            first_name="G.",
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


ZOE_EMAIL = "zoe.lachance@example.org"


def zoe_who_asks_to_be_erased() -> list[list[dict[str, Any]]]:
    """Zoé Lachance buys one ticket; later she asks for her data, then to be erased."""
    return [
        [
            _event(
                "zoe-tickets",
                "parterre.ticket.purchased.v1",
                "2026-09-21T15:00:00Z",
                {
                    "person": _person(
                        "billetterie",
                        external_id="C-9001",
                        email=ZOE_EMAIL,
                        first_name="Zoé",
                        last_name="Lachance",
                        postal_code="H1A 1A1",
                    ),
                    "order_id": "O-zoe",
                    "performance": PERFORMANCE,
                    "tickets": [
                        {
                            "ticket_id": "T-zoe-1",
                            "seat": "Balcon, rangée A, siège 3",
                            "price_category": "Étudiant",
                            "price": {"amount": "32.00", "currency": "CAD"},
                        }
                    ],
                    "total": {"amount": "32.00", "currency": "CAD"},
                    "channel": "box_office",
                },
                "billetterie",
            )
        ]
    ]
