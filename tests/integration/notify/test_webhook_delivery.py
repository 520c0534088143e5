"""Webhook delivery on real Kafka, the real store and real HTTP receivers: signed, retried, once per message."""

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from services.notify.domain.subscriptions import Subscription
from services.notify.ports import DeliveryStatus
from shared.cli import main
from shared.events import parse_event
from shared.topics import NOTIFY_DELIVERIES
from tests.integration.kafka_support import TopicTail
from tests.integration.notify.receivers import Received, Receiver, Reply, serving
from tests.integration.notify.support import NotifyHarness, api, context_of, running_notify, subscribe
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def reference_verify(secret: str, request: Received, tolerance_seconds: int = 300) -> bool:
    """The Standard Webhooks verification algorithm, written from the specification, independent of notify."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance_seconds:
        return False
    signed = f"{message_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [
        part.split(",", 1)[1] for part in request.headers["webhook-signature"].split(" ") if part.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


async def test_a_trigger_arrives_signed_once_even_when_redelivered_and_its_outcome_is_published(
    harness: NotifyHarness,
) -> None:
    outcomes = await TopicTail(
        harness.settings.kafka_bootstrap, NOTIFY_DELIVERIES.name, harness.organisation_id
    ).start()
    try:
        async with (
            serving(Receiver()) as receiver,
            running_notify(harness) as app,
            api(app, harness.organisation_id) as client,
        ):
            created = await subscribe(client, receiver.url + "/hooks/parterre")
            trigger = harness.trigger("fired-1")
            await harness.publish_triggers(trigger)
            assert await eventually(lambda: len(receiver.received) == 1)
            await harness.publish_triggers(trigger)
            events = await outcomes.read(1)
            listed = await client.get("/v1/deliveries", params={"subscription": created["subscription_id"]})
            view = (await client.get(f"/v1/subscriptions/{created['subscription_id']}")).json()
            await outcomes.read_quietly(1)
    finally:
        await outcomes.stop()
    [request] = receiver.received
    assert reference_verify(created["secret"], request)
    assert not reference_verify(created["secret"].replace("whsec_", "whsec_A")[:-1] + "=", request)
    assert request.headers["content-type"] == "application/json"
    payload = request.json()
    assert payload["type"] == "parterre.trigger.fired.v1"
    assert payload["data"]["rule"] == "welcome-first-purchase"
    assert payload["data"]["contact_points"] == [{"channel": "email", "value": "per_elise@example.com"}]
    [(envelope, outcome)] = [parse_event(record.value) for record in events]
    assert envelope.type == "parterre.delivery.succeeded.v1"
    assert outcome.model_dump()["message_id"] == request.headers["webhook-id"]
    [item] = listed.json()["items"]
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("succeeded", 1, 200)
    assert [attempt["outcome"] for attempt in item["attempt_log"]] == ["succeeded"]
    assert "secret" not in view
    assert "secret" not in str(view["secrets"])


async def test_a_receiver_that_fails_twice_then_succeeds_gets_the_same_webhook_id_each_time(
    harness: NotifyHarness,
) -> None:
    receiver = Receiver([Reply(500), Reply(502)])
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-retry"))
        assert await eventually(lambda: len(receiver.received) == 3)
        store = context_of(app).deps.store
        [delivery] = await store.deliveries(
            harness.organisation_id, subscription_id=created["subscription_id"], status=None, limit=10
        )
        assert await eventually(lambda: _status(app, delivery.delivery_id, DeliveryStatus.SUCCEEDED))
        stored = await store.delivery(delivery.delivery_id)
        await asyncio.sleep(0.2)
        metrics = (await client.get("/metrics")).text
    sub = created["subscription_id"]
    assert f'parterre_notify_deliveries_total{{outcome="retry",subscription="{sub}"}} 2.0' in metrics
    assert f'parterre_notify_deliveries_total{{outcome="succeeded",subscription="{sub}"}} 1.0' in metrics
    assert f'parterre_notify_attempt_duration_seconds_count{{subscription="{sub}"}} 3.0' in metrics
    assert f'parterre_notify_queue_depth{{subscription="{sub}"}} 0.0' in metrics
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 1
    assert all(reference_verify(created["secret"], request) for request in receiver.received)
    assert stored is not None
    assert stored.attempts == 3
    # 5 ms then 300 ms on the test's scaled schedule: the second retry waited for its turn.
    assert receiver.received[2].at - receiver.received[1].at >= 0.25


async def _status(app: FastAPI, delivery_id: str, wanted: DeliveryStatus) -> bool:
    delivery = await context_of(app).deps.store.delivery(delivery_id)
    return delivery is not None and delivery.status is wanted


async def test_410_gone_disables_the_subscription_and_a_400_dead_letters_at_once_until_replayed(
    harness: NotifyHarness,
) -> None:
    gone, refusing = Receiver(default=Reply(410)), Receiver([Reply(400)])
    async with (
        serving(gone),
        serving(refusing),
        running_notify(harness) as app,
        api(app, harness.organisation_id) as client,
    ):
        gone_sub = await subscribe(client, gone.url)
        refusing_sub = await subscribe(client, refusing.url)
        await harness.publish_triggers(harness.trigger("fired-gone"))
        assert await eventually(lambda: len(gone.received) == 1 and len(refusing.received) == 1)
        dead: list[dict[str, Any]] = []

        async def dead_listed() -> bool:
            dead[:] = (await client.get("/v1/deliveries", params={"status": "dead"})).json()["items"]
            return len(dead) == 2

        assert await eventually(dead_listed)
        view = (await client.get(f"/v1/subscriptions/{gone_sub['subscription_id']}")).json()
        [refused] = [item for item in dead if item["subscription_id"] == refusing_sub["subscription_id"]]
        replay = await client.post(f"/v1/deliveries/{refused['delivery_id']}/replay")
        assert await eventually(lambda: len(refusing.received) == 2)
        again = await client.post(f"/v1/deliveries/{refused['delivery_id']}/replay")
        assert await eventually(lambda: _status(app, refused["delivery_id"], DeliveryStatus.SUCCEEDED))
        await harness.publish_triggers(harness.trigger("fired-after-gone"))
        await eventually(lambda: len(refusing.received) == 3)
        missing = await client.post("/v1/deliveries/dlv_nothing/replay")
    assert view["enabled"] is False
    assert "410" in view["disabled_reason"]
    assert len(gone.received) == 1, "a disabled subscription gets nothing more"
    assert refused["attempts"] == 1
    assert refused["last_status_code"] == 400
    assert replay.status_code == 202
    assert again.status_code == 409
    # Queued again, or sent already: said in French words, its code beside them.
    assert again.json()["detail"]["message"]["fr"].startswith(
        (
            "Seule une livraison abandonnée peut être rejouée ; celle-ci est en attente (« pending »)",
            "Seule une livraison abandonnée peut être rejouée ; celle-ci est réussie (« succeeded »)",
        )
    )
    assert missing.status_code == 404
    assert refusing.received[0].headers["webhook-id"] == refusing.received[1].headers["webhook-id"]


async def test_after_a_410_nothing_more_goes_to_the_endpoint_however_late_the_lanes_learn_of_it(
    harness: NotifyHarness,
) -> None:
    gone = Receiver(default=Reply(410))
    async with serving(gone), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        store = context_of(app).deps.store
        read_all = store.subscriptions

        async def slow_list(organisation_id: str | None = None, *, readable_only: bool = False) -> list[Subscription]:
            # Listing every subscription takes longer than the lane takes to start its next attempt.
            listed = await read_all(organisation_id, readable_only=readable_only)
            await asyncio.sleep(0.3)
            return listed

        store.subscriptions = slow_list  # type: ignore[method-assign]
        created = await subscribe(client, gone.url, max_in_flight=1)
        await harness.publish_triggers(*(harness.trigger(f"fired-gone-{n}") for n in range(3)))
        assert await eventually(lambda: len(gone.received) >= 1)
        await asyncio.sleep(1.5)
        view = (await client.get(f"/v1/subscriptions/{created['subscription_id']}")).json()
    assert view["enabled"] is False
    assert len(gone.received) == 1, "a 410 disables the endpoint: the messages queued behind it are not sent"


async def test_retry_after_on_503_is_honoured(harness: NotifyHarness) -> None:
    receiver = Receiver([Reply(503, {"Retry-After": "1"})])
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-throttled"))
        assert await eventually(lambda: len(receiver.received) == 1)
        await asyncio.sleep(0.5)
        waiting = (await client.get("/metrics")).text
        assert await eventually(lambda: len(receiver.received) == 2)
    sub = created["subscription_id"]
    assert f'parterre_notify_queue_depth{{subscription="{sub}"}} 1.0' in waiting
    [oldest] = [
        line
        for line in waiting.splitlines()
        if line.startswith(f'parterre_notify_oldest_pending_seconds{{subscription="{sub}"}}')
    ]
    assert float(oldest.split()[-1]) >= 0.3
    first, second = receiver.received
    assert second.at - first.at >= 0.95, "the scaled schedule alone would have retried after 5 ms"


async def test_a_slow_endpoint_does_not_delay_a_healthy_one(harness: NotifyHarness) -> None:
    slow, fast = Receiver(default=Reply(200, delay=1.5)), Receiver()
    async with (
        serving(slow),
        serving(fast),
        running_notify(harness) as app,
        api(app, harness.organisation_id) as client,
    ):
        await subscribe(client, slow.url, max_in_flight=1)
        await subscribe(client, fast.url)
        await harness.publish_triggers(*(harness.trigger(f"fired-{n}", f"per_{n}") for n in range(6)))
        assert await eventually(lambda: len(fast.received) == 6)
        slow_seen = len(slow.received)
    # Had the healthy endpoint waited behind the slow one, the slow one would have had at least five by then.
    assert slow_seen <= 2, "the slow endpoint takes one at a time, 1.5 s each"


async def test_the_cli_replays_a_subscriptions_dead_deliveries(
    harness: NotifyHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver([Reply(422)])
    monkeypatch.setenv("PARTERRE_MONGO_URL", harness.settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", harness.settings.mongo_database)
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-cli"))

        async def dead() -> bool:
            return len((await client.get("/v1/deliveries", params={"status": "dead"})).json()["items"]) == 1

        assert await eventually(dead)
        arguments = ["notify", "replay", "--org", harness.organisation_id, "--subscription", created["subscription_id"]]
        code = await asyncio.to_thread(main, arguments)
        assert await eventually(lambda: len(receiver.received) == 2)
        unknown = await asyncio.to_thread(main, ["notify", "replay", "--org", harness.organisation_id, "dlv_none"])
    assert code == 0
    assert unknown == 1
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]


async def test_a_dead_delivery_about_an_erased_person_is_never_replayed_by_the_api_nor_the_cli(
    harness: NotifyHarness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = Receiver([Reply(400), Reply(400)])
    monkeypatch.setenv("PARTERRE_MONGO_URL", harness.settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", harness.settings.mongo_database)
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        store = context_of(app).deps.store
        created = await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-elise"), harness.trigger("fired-luc", "per_luc"))

        async def dead() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/v1/deliveries", params={"status": "dead"})).json()[
                "items"
            ]
            return items

        assert await eventually(lambda: _count(dead, 2))
        [elise] = [item for item in await dead() if item["person_id"] == "per_elise"]
        await harness.publish_changes(harness.erased("erased-elise", "per_elise"))
        assert await eventually(lambda: _status(app, elise["delivery_id"], DeliveryStatus.CANCELLED))
        cancelled = await store.delivery(elise["delivery_id"])
        replay = await client.post(f"/v1/deliveries/{elise['delivery_id']}/replay")
        # As an earlier version left it: dead, naming nobody.
        await store.update_delivery(elise["delivery_id"], {"status": DeliveryStatus.DEAD, "last_error": None})
        legacy_replay = await client.post(f"/v1/deliveries/{elise['delivery_id']}/replay")
        capsys.readouterr()
        arguments = ["notify", "replay", "--org", harness.organisation_id, "--subscription", created["subscription_id"]]
        bulk = await asyncio.to_thread(main, arguments)
        bulk_output = capsys.readouterr()
        assert await eventually(lambda: len(receiver.received) == 3)
        named = await asyncio.to_thread(
            main, ["notify", "replay", "--org", harness.organisation_id, elise["delivery_id"]]
        )
        named_output = capsys.readouterr()
        await asyncio.sleep(0.5)
    assert cancelled is not None
    assert (cancelled.status, cancelled.last_error) == (DeliveryStatus.CANCELLED, "erased")
    for refused in (replay, legacy_replay):
        assert refused.status_code == 409
        assert refused.json()["detail"]["code"] == "person_erased"
        assert refused.json()["detail"]["message"]["fr"]
    assert bulk == 0
    assert "1 dead deliveries about erased persons skipped" in bulk_output.out
    assert named == 1
    assert "erased" in named_output.err
    assert len(receiver.received) == 3, "Élise's message once, Luc's twice"
    assert [request.json()["data"]["person_id"] for request in receiver.received].count("per_elise") == 1


async def _count(listing: Callable[[], Awaitable[list[dict[str, Any]]]], wanted: int) -> bool:
    return len(await listing()) == wanted


async def test_a_target_on_loopback_is_refused_when_the_settings_do_not_allow_it(harness: NotifyHarness) -> None:
    receiver = Receiver()
    async with serving(receiver):
        async with running_notify(harness) as app, api(app, harness.organisation_id) as client:
            await subscribe(client, receiver.url)
        # Stored while loopback was allowed: once the settings forbid it, the subscription sends nothing there.
        harness.settings = harness.settings.model_copy(update={"notify_allow_loopback": False})
        async with running_notify(harness) as app, api(app, harness.organisation_id) as client:
            await harness.publish_triggers(harness.trigger("fired-ssrf"))
            dead: list[dict[str, Any]] = []

            async def refused() -> bool:
                dead[:] = (await client.get("/v1/deliveries", params={"status": "dead"})).json()["items"]
                return len(dead) == 1

            assert await eventually(refused)
            wanted = {"events": {"triggers": ["*"]}}
            ftp = await client.post("/v1/subscriptions", json={"url": "ftp://example.com/", **wanted})
            loopback = await client.post("/v1/subscriptions", json={"url": receiver.url, **wanted})
    assert receiver.received == []
    assert "loopback" in dead[0]["last_error"]
    assert ftp.status_code == loopback.status_code == 422
    assert ftp.json()["detail"]["code"] == loopback.json()["detail"]["code"] == "target_refused"
    assert "loopback" in loopback.json()["detail"]["message"]["en"]
