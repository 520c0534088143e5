"""What notify holds about a person, exported on real Kafka and the real store: the contact, every message sent
about them and where, each export logged."""

import csv
import io

import pytest

from shared.tokens import Scope
from tests.integration.notify.receivers import Receiver, serving
from tests.integration.notify.support import NotifyHarness, api, context_of, running_notify, subscribe
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_a_persons_contact_and_every_message_about_them_are_exported_and_each_export_is_logged(
    harness: NotifyHarness,
) -> None:
    async with serving(Receiver()) as receiver, running_notify(harness) as app:
        async with api(app, harness.organisation_id) as admin:
            created = await subscribe(admin, receiver.url + "/hooks/crm", description="CRM de la billetterie")
            await harness.publish_changes(
                harness.consent("consent-elise", "per_elise", 1, status="granted"),
                harness.entered("entered-elise", "per_elise", "abonnes-2026-2027"),
            )

            async def contact_known() -> bool:
                contact = await context_of(app).deps.store.contact(harness.organisation_id, "per_elise")
                return contact is not None and bool(contact.emails)

            assert await eventually(contact_known)
            await harness.publish_triggers(harness.trigger("fired-elise"))
            assert await eventually(lambda: len(receiver.received) == 1)
            # Admin of subscriptions is not enough to export a person.
            assert (await admin.get("/v1/persons/per_elise/export")).status_code == 403
        async with api(app, harness.organisation_id, Scope.PRIVACY_EXPORT) as client:

            async def sent() -> bool:
                answer = (await client.get("/v1/persons/per_elise/export")).json()
                statuses = [message["status"] for message in answer["messages"]]
                return statuses == ["succeeded"] and answer["segments"] == ["abonnes-2026-2027"]

            assert await eventually(sent)
            first = (await client.get("/v1/persons/per_elise/export")).json()
            as_csv = await client.get("/v1/persons/per_elise/export", params={"format": "csv"})
            last = (await client.get("/v1/persons/per_elise/export")).json()
            unknown = await client.get("/v1/persons/per_nobody/export")
            await harness.publish_changes(harness.erased("erased-elise", "per_elise"))

            async def erased() -> bool:
                return (await client.get("/v1/persons/per_elise/export")).status_code == 404

            # Erased, she is no longer in what notify holds; the log of her exports names nobody.
            assert await eventually(erased)
            store = context_of(app).deps.store
            assert len(await store.exports_logged(harness.organisation_id, "per_elise")) >= 4
            logged = await store.exports_logged(harness.organisation_id, "per_elise")
    assert "per_elise" not in repr(logged)

    contact = first["contact"]
    assert contact["emails"] == ["per_elise@example.com"]
    assert (contact["first_name"], contact["last_name"], contact["preferred_language"]) == ("Élise", "Gagnon", "fr")
    assert contact["consents"]["marketing_email"]["allowed"] is True
    [message] = first["messages"]
    # The receiver's site only: a webhook's path or query may be its key.
    assert message["sent_to"] == {"kind": "webhook", "url": receiver.url, "description": "CRM de la billetterie"}
    assert created["url"] == receiver.url + "/hooks/crm"
    assert (message["type"], message["purpose"], message["person_id"]) == (
        "parterre.trigger.fired.v1",
        "marketing_email",
        "per_elise",
    )
    assert message["data"]["rule"] == "welcome-first-purchase"
    assert message["data"]["contact_points"] == [{"channel": "email", "value": "per_elise@example.com"}]
    assert [attempt["outcome"] for attempt in message["attempt_log"]] == ["succeeded"]
    assert list(contact["messages_sent_at"]) == [message["message_id"]]
    # Each export is logged: the ones before are listed, by whom and in what form.
    assert len(first["earlier_exports"]) >= 1
    assert [entry["format"] for entry in last["earlier_exports"][-2:]] == ["json", "csv"]
    assert all(entry["requested_by"].startswith("token:") for entry in last["earlier_exports"])
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text.removeprefix("\ufeff"))))
    assert rows[0] == ["part", "name", "value"]
    parts = {(part, name) for part, name, _value in rows[1:]}
    assert ("contact", "emails") in parts
    assert ("consent", "marketing_email") in parts
    assert ("message", message["delivery_id"]) in parts
    assert ("segment", "abonnes-2026-2027") in parts
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["code"] == "person_not_found"
