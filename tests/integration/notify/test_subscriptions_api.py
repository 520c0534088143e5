"""The subscriptions API over HTTP: change, rotate the secret, list and delete, with what each does to deliveries."""

import asyncio
from typing import Any

import pytest

from services.notify.adapters.mongo import MongoNotifyStore
from services.notify.domain.subscriptions import Subscription
from tests.integration.notify.receivers import Receiver, Reply, serving
from tests.integration.notify.support import NotifyHarness, api, running_notify, subscribe
from tests.integration.notify.test_webhook_delivery import reference_verify
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_patch_changes_the_target_and_filter_and_disabling_then_enabling_stops_and_resumes_sending(
    harness: NotifyHarness,
) -> None:
    first, second = Receiver(), Receiver()
    async with (
        serving(first),
        serving(second),
        running_notify(harness) as app,
        api(app, harness.organisation_id) as client,
        api(app, "another-organisation") as stranger,
    ):
        created = await subscribe(client, first.url, description="CRM")
        path = f"/v1/subscriptions/{created['subscription_id']}"
        moved = await client.patch(
            path, json={"url": second.url, "events": {"triggers": ["lapsed"]}, "description": None, "max_in_flight": 2}
        )
        await harness.publish_triggers(harness.trigger("fired-unwanted", "per_a", rule="welcome-first-purchase"))
        await harness.publish_triggers(harness.trigger("fired-wanted", "per_b", rule="lapsed"))
        assert await eventually(lambda: len(second.received) == 1)
        disabled = await client.patch(path, json={"enabled": False})
        await asyncio.sleep(0.3)
        await harness.publish_triggers(harness.trigger("fired-while-disabled", "per_c", rule="lapsed"))
        await asyncio.sleep(1.0)
        received_while_disabled = len(second.received)
        enabled = await client.patch(path, json={"enabled": True})
        await harness.publish_triggers(harness.trigger("fired-after-enabling", "per_d", rule="lapsed"))
        assert await eventually(lambda: len(second.received) == 2)
        empty = await client.patch(path, json={"events": {}})
        ftp = await client.patch(path, json={"url": "ftp://example.com/"})
        unknown_field = await client.patch(path, json={"secret": "whsec_mine"})
        foreign = await stranger.patch(path, json={"enabled": False})
        view = (await client.get(path)).json()
    assert moved.status_code == 200, moved.text
    assert (moved.json()["url"], moved.json()["events"]["triggers"]) == (second.url, ["lapsed"])
    assert (moved.json()["description"], moved.json()["max_in_flight"]) == (None, 2)
    assert first.received == []
    assert [request.json()["data"]["person_id"] for request in second.received] == ["per_b", "per_d"]
    assert (disabled.json()["enabled"], disabled.json()["disabled_reason"]) == (False, "disabled by an administrator")
    assert received_while_disabled == 1
    assert (enabled.json()["enabled"], enabled.json()["disabled_reason"]) == (True, None)
    assert empty.status_code == ftp.status_code == unknown_field.status_code == 422
    assert ftp.json()["detail"]["code"] == "target_refused"
    assert foreign.status_code == 404
    assert view["enabled"] is True
    assert view["url"] == second.url


async def test_after_a_rotation_either_secret_verifies_during_the_overlap_and_only_the_new_one_after(
    harness: NotifyHarness,
) -> None:
    overlap_seconds = 2.0
    harness.settings = harness.settings.model_copy(
        update={"notify_secret_rotation_overlap_hours": overlap_seconds / 3600}
    )
    receiver = Receiver()
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        old = created["secret"]
        rotated = await client.post(f"/v1/subscriptions/{created['subscription_id']}/rotate-secret")
        new = rotated.json()["secret"]
        await harness.publish_triggers(harness.trigger("fired-during-overlap", "per_a"))
        assert await eventually(lambda: len(receiver.received) == 1)
        await asyncio.sleep(overlap_seconds + 0.2)
        await harness.publish_triggers(harness.trigger("fired-after-overlap", "per_b"))
        assert await eventually(lambda: len(receiver.received) == 2)
        view = (await client.get(f"/v1/subscriptions/{created['subscription_id']}")).json()
        again = await client.post(f"/v1/subscriptions/{created['subscription_id']}/rotate-secret")
        twice = await client.post(f"/v1/subscriptions/{created['subscription_id']}/rotate-secret")
    during, after = receiver.received
    assert rotated.status_code == 200
    assert new != old
    assert new.startswith("whsec_")
    assert reference_verify(old, during)
    assert reference_verify(new, during)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert reference_verify(new, after)
    assert not reference_verify(old, after)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert "secret" not in view
    assert [entry["expires_at"] is None for entry in view["secrets"]] == [True, False]
    assert again.json()["secret"] != twice.json()["secret"]
    assert len(twice.json()["secrets"]) == 2, "only the newest and the one before it are ever kept"


async def test_two_rotations_at_once_never_both_answer_a_secret_when_only_one_signs(
    harness: NotifyHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    read = MongoNotifyStore.subscription
    both_read = asyncio.Barrier(2)
    rotating = False

    async def read_at_once(store: MongoNotifyStore, subscription_id: str) -> Subscription | None:
        # Both requests read the subscription before either stores its rotation: a double click, two admins.
        found = await read(store, subscription_id)
        if rotating:
            async with asyncio.timeout(10):
                await both_read.wait()
        return found

    monkeypatch.setattr(MongoNotifyStore, "subscription", read_at_once)
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        path = f"/v1/subscriptions/{created['subscription_id']}/rotate-secret"
        rotating = True
        answers = await asyncio.gather(client.post(path), client.post(path))
        rotating = False
        await harness.publish_triggers(harness.trigger("fired-after-rotating", "per_a"))
        assert await eventually(lambda: len(receiver.received) == 1)
    [delivered] = receiver.received
    kept = [answer.json()["secret"] for answer in answers if answer.status_code == 200]
    [refused] = [answer for answer in answers if answer.status_code != 200]
    assert len(kept) == 1
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"]["code"] == "rotated_meanwhile"
    assert set(refused.json()["detail"]["message"]) == {"en", "fr"}
    # Every secret an answer showed signs the delivery: none was lost to a rotation written over it.
    assert all(reference_verify(secret, delivered) for secret in kept)


async def test_the_listing_shows_only_the_organisations_subscriptions_oldest_first_without_secrets(
    harness: NotifyHarness,
) -> None:
    async with (
        running_notify(harness) as app,
        api(app, harness.organisation_id) as client,
        api(app, "another-organisation") as stranger,
    ):
        mine = [await subscribe(client, f"https://hooks.example.com/{n}") for n in range(3)]
        await subscribe(stranger, "https://hooks.example.com/theirs")
        listed = await client.get("/v1/subscriptions")
    assert listed.status_code == 200
    items: list[dict[str, Any]] = listed.json()["items"]
    assert [item["subscription_id"] for item in items] == [created["subscription_id"] for created in mine]
    assert all("secret" not in item for item in items)
    assert all(created["secret"] not in listed.text for created in mine)


async def test_delete_removes_the_subscription_and_dead_letters_what_it_still_had_queued(
    harness: NotifyHarness,
) -> None:
    receiver = Receiver(default=Reply(503, {"Retry-After": "60"}))
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        kept = await subscribe(client, "https://hooks.example.com/kept")
        path = f"/v1/subscriptions/{created['subscription_id']}"
        await harness.publish_triggers(harness.trigger("fired-before-delete"))
        assert await eventually(lambda: len(receiver.received) == 1)

        async def waiting_for_its_retry() -> bool:
            listed = await client.get("/v1/deliveries", params={"subscription": created["subscription_id"]})
            return [item["attempts"] for item in listed.json()["items"]] == [1]

        assert await eventually(waiting_for_its_retry)
        deleted = await client.delete(path)
        gone = await client.get(path)
        again = await client.delete(path)
        listed = (await client.get("/v1/subscriptions")).json()["items"]
        deliveries = (await client.get("/v1/deliveries", params={"subscription": created["subscription_id"]})).json()
        [delivery] = deliveries["items"]
        replay = await client.post(f"/v1/deliveries/{delivery['delivery_id']}/replay")
        await asyncio.sleep(0.5)
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert again.status_code == 404
    assert [item["subscription_id"] for item in listed] == [kept["subscription_id"]]
    assert (delivery["status"], delivery["last_error"]) == ("dead", "subscription_deleted")
    assert replay.status_code == 409
    assert len(receiver.received) == 1


async def test_the_deliveries_about_one_person_are_listed_alone_newest_first_for_their_organisation_only(
    harness: NotifyHarness,
) -> None:
    receiver = Receiver()
    async with (
        serving(receiver),
        running_notify(harness) as app,
        api(app, harness.organisation_id) as client,
        api(app, "another-organisation") as stranger,
    ):
        await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("elise-first", "per_elise"))
        await harness.publish_triggers(harness.trigger("marc-first", "per_marc"))
        await harness.publish_triggers(harness.trigger("elise-second", "per_elise", rule="thank-after-performance"))

        async def all_three_listed() -> bool:
            return len((await client.get("/v1/deliveries")).json()["items"]) == 3

        assert await eventually(all_three_listed)
        elise = (await client.get("/v1/deliveries", params={"person": "per_elise"})).json()["items"]
        nobody = (await client.get("/v1/deliveries", params={"person": "per_nobody"})).json()["items"]
        theirs = (await stranger.get("/v1/deliveries", params={"person": "per_elise"})).json()["items"]
        empty = await client.get("/v1/deliveries", params={"person": ""})
    assert [item["person_id"] for item in elise] == ["per_elise", "per_elise"]
    assert elise[0]["created_at"] >= elise[1]["created_at"]
    assert nobody == theirs == []
    assert empty.status_code == 422
