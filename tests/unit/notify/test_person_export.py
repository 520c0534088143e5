"""What notify holds about a person, exported: the receiver of each message named without what of its address may
be a key, other organisations' subscriptions never named, and each export logged."""

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, get_args

from fastapi.testclient import TestClient

from services.notify.bootstrap import create_app
from services.notify.context import NotifyDep
from services.notify.domain.contacts import Contact
from services.notify.domain.subscriptions import EventFilter, Subscription, TargetKind
from services.notify.ports import AttemptRecord, Delivery, DeliveryStatus
from services.notify.settings import NotifySettings
from shared.access import PrivacyExporter
from shared.privacy import person_digest
from shared.tokens import Principal, Scope

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def subscription(subscription_id: str, organisation_id: str, url: str) -> Subscription:
    return Subscription(
        subscription_id=subscription_id,
        organisation_id=organisation_id,
        kind=TargetKind.WEBHOOK,
        url=url,
        events=EventFilter(triggers=frozenset({"*"})),
        enabled=True,
        created_at=NOW,
        description="CRM",
    )


def delivery(delivery_id: str, subscription_id: str) -> Delivery:
    return Delivery(
        delivery_id=delivery_id,
        organisation_id="theatre",
        subscription_id=subscription_id,
        message_id=f"msg_{delivery_id}",
        kind="parterre.trigger.fired.v1",
        data={"person_id": "per_1", "rule": "bienvenue"},
        occurred_at=NOW,
        created_at=NOW,
        person_id="per_1",
        status=DeliveryStatus.SUCCEEDED,
        attempts=1,
    )


class Store:
    def __init__(self) -> None:
        self.subscriptions = {
            "sub_hook": subscription(
                "sub_hook", "theatre", "https://hooks.example.com:8443/services/T0/B0/s3cr3t?key=k1"
            ),
            "sub_other": subscription("sub_other", "other-org", "https://other.example/hook"),
        }
        self.deliveries = [delivery("dlv_1", "sub_hook"), delivery("dlv_2", "sub_other"), delivery("dlv_3", "sub_gone")]
        self.log: list[dict[str, Any]] = []

    async def contact(self, organisation_id: str, person_id: str) -> Contact | None:
        if (organisation_id, person_id) == ("theatre", "per_1"):
            return Contact("per_1", emails=("elise@example.com",), first_name="=Élise")
        return None

    async def person_deliveries(self, organisation_id: str, person_id: str) -> list[Delivery]:
        return [d for d in self.deliveries if (d.organisation_id, d.person_id) == (organisation_id, person_id)]

    async def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id)

    async def attempts(self, delivery: Delivery) -> list[AttemptRecord]:
        return [AttemptRecord(f"{delivery.delivery_id}_1", delivery.delivery_id, 1, NOW, "w", NOW, "succeeded", 200)]

    async def sends(self, organisation_id: str, person_id: str) -> dict[str, datetime]:
        return {}

    async def segments_of(self, organisation_id: str, person_id: str) -> list[str]:
        return ["abonnes"] if (organisation_id, person_id) == ("theatre", "per_1") else []

    async def exports_logged(self, organisation_id: str, person_id: str) -> list[dict[str, Any]]:
        digest = person_digest(organisation_id, person_id)
        return [
            entry
            for entry in self.log
            if (entry["organisation_id"], entry["person_digest"]) == (organisation_id, digest)
        ]

    async def log_export(
        self, organisation_id: str, person_id: str, at: datetime, requested_by: str, details: Any
    ) -> None:
        self.log.append(
            {
                "organisation_id": organisation_id,
                "person_digest": person_digest(organisation_id, person_id),
                "at": at,
                "requested_by": requested_by,
                "details": dict(details),
            }
        )


def client(store: Store, organisation_id: str = "theatre") -> TestClient:
    app = create_app(NotifySettings())
    principal = Principal(token_id="t1", organisation_id=organisation_id, scopes=frozenset(Scope), name="marie")
    app.dependency_overrides[get_args(PrivacyExporter)[1].dependency] = lambda: principal
    clock = SimpleNamespace(now=lambda: NOW)
    app.dependency_overrides[get_args(NotifyDep)[1].dependency] = lambda: SimpleNamespace(
        deps=SimpleNamespace(store=store, clock=clock), settings=NotifySettings()
    )
    return TestClient(app)


def test_each_message_names_its_receiver_by_its_site_alone_never_by_a_path_or_query_that_may_be_a_key() -> None:
    store = Store()

    answer = client(store).get("/v1/persons/per_1/export")

    assert answer.status_code == 200
    sent_to = {message["delivery_id"]: message["sent_to"] for message in answer.json()["messages"]}
    assert sent_to == {
        "dlv_1": {"kind": "webhook", "url": "https://hooks.example.com:8443", "description": "CRM"},
        # Another organisation's subscription, or one deleted: not named.
        "dlv_2": None,
        "dlv_3": None,
    }
    as_csv = client(store).get("/v1/persons/per_1/export", params={"format": "csv"}).text
    assert "s3cr3t" not in as_csv
    assert "key=k1" not in as_csv
    assert "s3cr3t" not in answer.text


def test_each_export_is_logged_and_listed_by_the_next_for_the_organisation_alone() -> None:
    store = Store()

    client(store).get("/v1/persons/per_1/export", params={"format": "csv"})
    answer = client(store).get("/v1/persons/per_1/export").json()
    elsewhere = client(store, "other-org").get("/v1/persons/per_1/export")

    assert [entry["format"] for entry in answer["earlier_exports"]] == ["csv"]
    assert [entry["details"]["format"] for entry in store.log] == ["csv", "json"]
    assert elsewhere.status_code == 404
    assert "per_1" not in repr(store.log)


def test_the_csv_keeps_a_formula_as_text_and_starts_with_a_bom() -> None:
    text = client(Store()).get("/v1/persons/per_1/export", params={"format": "csv"}).text

    assert text.startswith("\ufeffpart,name,value\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert ["contact", "first_name", "'=Élise"] in rows


class StoreWithAComplicatedAddress(Store):
    async def contact(self, organisation_id: str, person_id: str) -> Contact | None:
        found = await super().contact(organisation_id, person_id)
        return None if found is None else replace(found, street="12, rue de l'Église; app. 3")


def test_the_csv_for_excel_in_french_separates_cells_with_semicolons_and_reads_back_whole() -> None:
    answer = client(StoreWithAComplicatedAddress()).get(
        "/v1/persons/per_1/export", params={"format": "csv", "separator": "semicolon"}
    )

    assert answer.status_code == 200, answer.text
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeffpart;name;value\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=";"))
    assert all(len(row) == 3 for row in rows)
    assert ["contact", "first_name", "'=Élise"] in rows
    assert ["contact", "street", "12, rue de l'Église; app. 3"] in rows
