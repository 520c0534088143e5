"""The Mailchimp audience sync against a local server implementing the documented endpoints, and segment exports."""

import csv
import io
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from services.notify.domain.mailchimp import subscriber_hash
from services.notify.ports import Delivery
from shared.tokens import Scope
from tests.integration.notify.receivers import FakeMailchimp, Receiver, serving
from tests.integration.notify.support import NotifyHarness, api, context_of, running_notify, subscribe
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

API_KEY = "0123456789abcdef0123456789abcdef-us21"
LIST_ID = "a6b5da1054"


async def _subscribe_mailchimp(client: httpx.AsyncClient, mailchimp: FakeMailchimp, **fields: Any) -> dict[str, Any]:
    """A subscription syncing the fake audience."""
    mailchimp_target = {"api_url": mailchimp.url + "/3.0", "api_key": API_KEY, "list_id": LIST_ID}
    return await subscribe(client, "", kind="mailchimp", mailchimp=mailchimp_target, **fields)


async def test_members_are_upserted_tagged_by_segment_and_an_unsubscribe_in_mailchimp_stops_emails(
    harness: NotifyHarness,
) -> None:
    mailchimp, webhook = FakeMailchimp(API_KEY, LIST_ID), Receiver()
    async with serving(mailchimp), serving(webhook), running_notify(harness) as app:
        # Luc unsubscribed in Mailchimp itself; Parterre has not heard of it yet.
        mailchimp.members[subscriber_hash("per_luc@example.com")] = {
            "email_address": "per_luc@example.com",
            "status": "unsubscribed",
        }
        async with api(app, harness.organisation_id) as client:
            await _subscribe_mailchimp(
                client,
                mailchimp,
                events={"segments_entered": ["*"], "segments_exited": ["*"], "profile_fields": ["consent.*", "emails"]},
            )
            await subscribe(client, webhook.url)
            for person in ("per_elise", "per_luc"):
                await harness.publish_changes(harness.consent(f"consent-{person}", person, 1, status="granted"))
            await harness.publish_changes(harness.entered("entered-elise", "per_elise", "abonnes-2026-2027"))
            elise = subscriber_hash("PER_ELISE@example.com")

            def elise_tagged() -> bool:
                return mailchimp.members.get(elise, {}).get("tags") == {"abonnes-2026-2027": "active"}

            assert await eventually(elise_tagged)

            async def luc_opted_out() -> bool:
                contact = await context_of(app).deps.store.contact(harness.organisation_id, "per_luc")
                return contact is not None and "marketing_email" in contact.opt_outs

            assert await eventually(luc_opted_out)
            await harness.publish_triggers(harness.trigger("fired-luc", "per_luc"), harness.trigger("fired-elise"))
            assert await eventually(lambda: len(webhook.received) == 1)
            suppressed: list[dict[str, Any]] = []

            async def luc_suppressed() -> bool:
                # Luc's delivery is decided apart from Élise's: her arrival says nothing about his.
                suppressed[:] = (await client.get("/v1/deliveries", params={"status": "suppressed"})).json()["items"]
                return len(suppressed) == 1

            assert await eventually(luc_suppressed)
            await harness.publish_changes(harness.consent("consent-elise-2", "per_elise", 2, status="withdrawn"))
            assert await eventually(lambda: mailchimp.members[elise]["status"] == "unsubscribed")
    member = mailchimp.members[elise]
    assert member["merge_fields"] == {"FNAME": "Élise", "LNAME": "Gagnon"}
    assert member["language"] == "fr"
    assert mailchimp.members[subscriber_hash("per_luc@example.com")]["status"] == "unsubscribed", "never resubscribed"
    assert [request.json()["data"]["person_id"] for request in webhook.received] == ["per_elise"]
    assert [item["last_error"] for item in suppressed] == ["opted_out"]
    assert all(request.headers["authorization"].startswith("Basic ") for request in mailchimp.received)


async def test_a_member_moves_to_the_persons_new_latest_address_rather_than_a_second_member_being_added(
    harness: NotifyHarness,
) -> None:
    mailchimp = FakeMailchimp(API_KEY, LIST_ID)
    old, new = subscriber_hash("per_elise@example.com"), subscriber_hash("elise.gagnon@example.net")
    async with serving(mailchimp), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        await _subscribe_mailchimp(
            client, mailchimp, events={"segments_entered": ["*"], "profile_fields": ["consent.*", "emails"]}
        )
        await harness.publish_changes(
            harness.consent("consent-elise", "per_elise", 1, status="granted"),
            harness.entered("entered-elise", "per_elise", "abonnes-2026-2027"),
        )
        assert await eventually(lambda: mailchimp.members.get(old, {}).get("tags") == {"abonnes-2026-2027": "active"})
        await harness.publish_changes(
            harness.changed(
                "change-elise-2", "per_elise", 2, emails=["elise.gagnon@example.net", "per_elise@example.com"]
            )
        )
        assert await eventually(lambda: new in mailchimp.members)

        async def noted() -> bool:
            contact = await context_of(app).deps.store.contact(harness.organisation_id, "per_elise")
            return contact is not None and list(contact.mailchimp_members.values()) == ["elise.gagnon@example.net"]

        # Noted, the next change of address moves the member from there.
        assert await eventually(noted)
    assert old not in mailchimp.members, "one member, not two"
    assert mailchimp.members[new]["email_address"] == "elise.gagnon@example.net"
    assert mailchimp.members[new]["status"] == "subscribed"
    assert mailchimp.members[new]["tags"] == {"abonnes-2026-2027": "active"}


async def test_deleting_a_mailchimp_subscription_lets_go_of_the_addresses_it_kept_members_under(
    harness: NotifyHarness,
) -> None:
    mailchimp = FakeMailchimp(API_KEY, LIST_ID)
    async with serving(mailchimp), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await _subscribe_mailchimp(
            client, mailchimp, events={"segments_entered": ["*"], "profile_fields": ["consent.*"]}
        )
        await harness.publish_changes(harness.consent("consent-elise", "per_elise", 1, status="granted"))
        store = context_of(app).deps.store

        async def kept() -> dict[str, str]:
            contact = await store.contact(harness.organisation_id, "per_elise")
            return {} if contact is None else dict(contact.mailchimp_members)

        async def noted() -> bool:
            return await kept() == {created["subscription_id"]: "per_elise@example.com"}

        assert await eventually(noted)
        deleted = await client.delete(f"/v1/subscriptions/{created['subscription_id']}")
        left = await kept()
        contact = await store.contact(harness.organisation_id, "per_elise")
    assert deleted.status_code == 204, deleted.text
    assert left == {}
    assert contact is not None
    assert contact.emails == ("per_elise@example.com",), "the contact itself stays"


async def test_an_erased_persons_members_are_deleted_for_good_but_not_one_under_an_address_a_family_shares(
    harness: NotifyHarness,
) -> None:
    mailchimp = FakeMailchimp(API_KEY, LIST_ID)
    elise, family = subscriber_hash("per_elise@example.com"), subscriber_hash("gagnon.famille@example.com")
    # Under an address Élise gave long ago, from before the sync: hers too, and Mailchimp keeps her name there.
    former = subscriber_hash("elise.g@example.org")
    mailchimp.members[former] = {"email_address": "elise.g@example.org", "status": "unsubscribed"}
    async with serving(mailchimp), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await _subscribe_mailchimp(client, mailchimp, events={"profile_fields": ["consent.*", "emails"]})
        await harness.publish_changes(
            harness.consent("consent-elise", "per_elise", 1, status="granted"),
            harness.changed(
                "consent-marc",
                "per_marc",
                1,
                **{
                    "emails": ["gagnon.famille@example.com"],
                    "consent.marketing_email.status": "granted",
                    "consent.marketing_email.allowed": True,
                },
            ),
        )
        assert await eventually(lambda: elise in mailchimp.members and family in mailchimp.members)
        await harness.publish_changes(
            harness.changed(
                "emails-elise",
                "per_elise",
                2,
                emails=["per_elise@example.com", "gagnon.famille@example.com", "elise.g@example.org"],
            ),
            harness.erased("erased-elise", "per_elise"),
        )
        assert await eventually(lambda: elise not in mailchimp.members and former not in mailchimp.members)
        store = context_of(app).deps.store

        async def done() -> list[Delivery]:
            found = await store.deliveries(
                harness.organisation_id, subscription_id=created["subscription_id"], status="succeeded", limit=100
            )
            return [delivery for delivery in found if delivery.kind == "parterre.profile.erased.v1"]

        async def deletion_done() -> bool:
            return bool(await done())

        assert await eventually(deletion_done)
        [deletion] = await done()
    assert family in mailchimp.members, "Marc gives the family's address: his member stays"
    deletions = [
        request.path.split("/")[-3]
        for request in mailchimp.received
        if request.path.endswith("/actions/delete-permanent")
    ]
    assert sorted(deletions) == sorted([elise, former])
    assert deletion.person_id is None
    assert deletion.data == {}, "the subscriber hashes go once the members are deleted"


async def test_the_url_of_a_mailchimp_subscription_is_not_changed_to_one_it_would_not_use(
    harness: NotifyHarness,
) -> None:
    mailchimp = FakeMailchimp(API_KEY, LIST_ID)
    async with serving(mailchimp), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await _subscribe_mailchimp(client, mailchimp)

        refused = await client.patch(
            f"/v1/subscriptions/{created['subscription_id']}", json={"url": "https://hooks.example.com/elsewhere"}
        )
        shown = (await client.get(f"/v1/subscriptions/{created['subscription_id']}")).json()

    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"]["code"] == "url_not_changeable"
    assert set(refused.json()["detail"]["message"]) == {"en", "fr"}
    assert shown["url"] == created["url"]


async def test_a_segment_exports_as_csv_with_only_the_members_consent_allows(harness: NotifyHarness) -> None:
    async with running_notify(harness) as app:
        await harness.publish_changes(
            harness.consent("consent-a", "per_elise", 1, status="granted"),
            harness.consent("consent-b", "per_luc", 1, status="withdrawn"),
            harness.entered("entered-a", "per_elise", "abonnes"),
            harness.entered("entered-b", "per_luc", "abonnes"),
        )

        async def both_members() -> bool:
            return len(await context_of(app).deps.store.segment_members(harness.organisation_id, "abonnes")) == 2

        assert await eventually(both_members)
        async with api(app, harness.organisation_id, Scope.SEGMENTS_READ) as client:
            exported = await client.get("/v1/segments/abonnes/export.csv")
            for_french_excel = await client.get("/v1/segments/abonnes/export.csv", params={"separator": "semicolon"})
            # A name a header cannot carry as such (no segment has it: segments are named in plain letters).
            french = await client.get("/v1/segments/chœur-été/export.csv")
            injected = await client.get("/v1/segments/vip%22%0D%0ASet-Cookie:%20x=1/export.csv")
            forbidden = await client.get("/v1/subscriptions")
        logged = await context_of(app).deps.store.segment_exports_logged(harness.organisation_id, "abonnes")
    assert exported.status_code == 200
    # Each export logged, as a person's is: who took the list away, when, and of how many members.
    assert [(entry["action"], entry["details"]["separator"], entry["details"]["members"]) for entry in logged] == [
        ("segment_exported", "comma", 2),
        ("segment_exported", "semicolon", 2),
    ]
    assert all(entry["requested_by"].startswith("token:") for entry in logged)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["person_id", "email"]
    # An email export leaves the six address columns empty.
    assert rows[1:] == [["per_elise", "per_elise@example.com", "", "Élise", "Gagnon", *[""] * 6, "fr"]]
    assert list(csv.reader(io.StringIO(for_french_excel.content.decode("utf-8-sig")), delimiter=";")) == rows
    assert forbidden.status_code == 403
    assert french.status_code == 200
    disposition = french.headers["content-disposition"]
    assert disposition.split('filename="', 1)[1].split('"', 1)[0] == "ch_ur-_t_-marketing_email.csv"
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "chœur-été-marketing_email.csv"
    assert injected.status_code == 200
    assert "set-cookie" not in injected.headers
    assert injected.headers["content-disposition"].count('"') == 2
