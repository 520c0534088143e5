"""What a queue may hold: a cap per subscription, and a disabled subscription's backlog kept only for a while."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.notify.receivers import Receiver, Reply, serving
from tests.integration.notify.support import NotifyHarness, api, context_of, running_notify, subscribe
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

WAIT_A_MINUTE = Reply(503, {"Retry-After": "60"})


async def test_a_full_queue_gives_up_on_its_oldest_deliveries_and_counts_them(harness: NotifyHarness) -> None:
    harness.settings = harness.settings.model_copy(update={"notify_max_queue_per_subscription": 3})
    receiver = Receiver(default=WAIT_A_MINUTE)
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        for n in range(6):
            await harness.publish_triggers(harness.trigger(f"fired-{n}", f"per_{n}"))
        items: list[dict[str, Any]] = []

        async def three_dead() -> bool:
            items[:] = (await client.get("/v1/deliveries")).json()["items"]
            return len(items) == 6 and sum(item["status"] == "dead" for item in items) == 3

        assert await eventually(three_dead)
        await asyncio.sleep(0.3)
        metrics = (await client.get("/metrics")).text
    dead = [item for item in items if item["status"] == "dead"]
    waiting = [item for item in items if item["status"] == "pending"]
    # Which three went depends on which attempts were under way at each trim; tests/unit/notify/test_queue_trim.py
    # shows the oldest waiting go first.
    sub = created["subscription_id"]
    assert {item["last_error"] for item in dead} == {"queue_full"}
    assert len(waiting) == 3
    assert f'parterre_notify_evicted_total{{reason="queue_full",subscription="{sub}"}} 3.0' in metrics
    assert f'parterre_notify_queue_depth{{subscription="{sub}"}} 3.0' in metrics


async def test_a_subscription_disabled_and_enabled_again_during_an_attempt_is_not_sent_it_twice(
    harness: NotifyHarness,
) -> None:
    receiver = Receiver(default=Reply(delay=1.5))
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        await harness.publish_triggers(harness.trigger("fired-slow-answer"))
        assert await eventually(lambda: len(receiver.received) == 1)
        # Its lane is dropped while the receiver takes its time; a new lane starts when it is enabled again.
        await client.patch(f"/v1/subscriptions/{created['subscription_id']}", json={"enabled": False})
        await asyncio.sleep(0.3)
        await client.patch(f"/v1/subscriptions/{created['subscription_id']}", json={"enabled": True})

        async def delivered() -> bool:
            items = (await client.get("/v1/deliveries")).json()["items"]
            return len(items) == 1 and items[0]["status"] == "succeeded"

        assert await eventually(delivered)
        # A second attempt started meanwhile would have reached the receiver by now.
        await asyncio.sleep(1.0)
        [delivery] = (await client.get("/v1/deliveries")).json()["items"]
    assert len(receiver.received) == 1
    assert delivery["attempts"] == 1


async def test_a_disabled_subscription_keeps_its_queue_for_a_while_then_gives_up_on_it(
    harness: NotifyHarness,
) -> None:
    max_age_seconds = 3.0
    harness.settings = harness.settings.model_copy(update={"notify_disabled_max_age_hours": max_age_seconds / 3600})
    back_soon, gone_long = Receiver([Reply(503, {"Retry-After": "1"})]), Receiver(default=WAIT_A_MINUTE)
    async with (
        serving(back_soon),
        serving(gone_long),
        running_notify(harness) as app,
        api(app, harness.organisation_id) as client,
    ):
        soon = await subscribe(client, back_soon.url)
        long = await subscribe(client, gone_long.url)
        await harness.publish_triggers(harness.trigger("fired-before-disabling"))
        assert await eventually(lambda: len(back_soon.received) == 1 and len(gone_long.received) == 1)
        for created in (soon, long):
            await client.patch(f"/v1/subscriptions/{created['subscription_id']}", json={"enabled": False})
        disabled_at = datetime.now(UTC)
        await asyncio.sleep(1.5)
        enabled_at = datetime.now(UTC)
        await client.patch(f"/v1/subscriptions/{soon['subscription_id']}", json={"enabled": True})
        assert await eventually(lambda: len(back_soon.received) == 2)
        deliveries: dict[str, dict[str, Any]] = {}

        async def long_given_up() -> bool:
            listed = (await client.get("/v1/deliveries")).json()["items"]
            deliveries.update({item["subscription_id"]: item for item in listed})
            return bool(deliveries[long["subscription_id"]]["status"] == "dead")

        assert await eventually(long_given_up, deadline_seconds=10)
        await asyncio.sleep(0.3)
        listed = (await client.get("/v1/deliveries")).json()["items"]
        metrics = (await client.get("/metrics")).text
    statuses = {item["subscription_id"]: (item["status"], item["last_error"]) for item in listed}
    (soon_delivery,) = [item for item in listed if item["subscription_id"] == soon["subscription_id"]]
    claimed = [datetime.fromisoformat(attempt["claimed_at"]) for attempt in soon_delivery["attempt_log"]]
    # The retry was due a second after the first attempt, while disabled. An attempt already under way when its
    # subscription is disabled is let finish (on a busy machine, disabling may take that second), none starts.
    assert len(claimed) == 2
    assert not [moment for moment in claimed if disabled_at <= moment <= enabled_at], (claimed, disabled_at)
    assert statuses[soon["subscription_id"]] == ("succeeded", None), "re-enabled in time: nothing was lost"
    assert statuses[long["subscription_id"]] == ("dead", "subscription_disabled")
    assert (
        f'parterre_notify_evicted_total{{reason="subscription_disabled",subscription="{long["subscription_id"]}"}} 1.0'
        in metrics
    )
    assert len(gone_long.received) == 1


async def test_a_subscription_disabled_while_the_worker_reads_the_subscriptions_stops_at_once(
    harness: NotifyHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polls a minute apart: only the change itself can make the worker read the subscriptions again in time.
    harness.settings = harness.settings.model_copy(update={"notify_poll_seconds": 60})
    receiver = Receiver(default=WAIT_A_MINUTE)
    async with serving(receiver), running_notify(harness) as app, api(app, harness.organisation_id) as client:
        created = await subscribe(client, receiver.url)
        registry = app.state.runtime.registry
        depth = {"subscription": created["subscription_id"]}
        # A lane works for the subscription: it reports its queue.
        assert await eventually(lambda: registry.get_sample_value("parterre_notify_queue_depth", depth) is not None)
        context = context_of(app)
        store, read, release = context.deps.store, asyncio.Event(), asyncio.Event()
        read_before_the_change = store.subscriptions

        async def held_read(*, readable_only: bool = False) -> Any:
            found = await read_before_the_change(readable_only=readable_only)
            read.set()
            await release.wait()
            return found

        monkeypatch.setattr(store, "subscriptions", held_read)
        context.subscriptions_changed()
        await read.wait()
        # Disabled while the worker holds the subscriptions as they were.
        await client.patch(f"/v1/subscriptions/{created['subscription_id']}", json={"enabled": False})
        monkeypatch.setattr(store, "subscriptions", read_before_the_change)
        release.set()

        assert await eventually(
            lambda: registry.get_sample_value("parterre_notify_queue_depth", depth) is None, deadline_seconds=5
        )
