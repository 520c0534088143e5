"""Trimming a queue: the oldest waiting deliveries go first, attempts under way stay, a disabled backlog expires."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.subscriptions import EventFilter, Subscription, TargetKind
from services.notify.handlers import NotifyDeps, NotifyRules, trim_queue
from services.notify.ports import Delivery, DeliveryStatus, NotifyStore, QueueEntry

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SUBSCRIPTION = Subscription("sub_a", "org", TargetKind.WEBHOOK, "https://a.example", EventFilter(), True, NOW)


class FixedClock:
    def now(self) -> datetime:
        return NOW


class DeliveriesAndQueue:
    """The part of the store a trim uses: deliveries by id, and the queue they leave."""

    def __init__(self, entries: list[QueueEntry]) -> None:
        self.deliveries = {
            entry.delivery_id: Delivery(entry.delivery_id, "org", "sub_a", "msg", "kind", {}, NOW, entry.since)
            for entry in entries
        }
        self.queued = {entry.delivery_id for entry in entries}

    async def delivery(self, delivery_id: str) -> Delivery | None:
        return self.deliveries.get(delivery_id)

    async def update_delivery(self, delivery_id: str, changes: Mapping[str, Any]) -> None:
        self.deliveries[delivery_id] = replace(self.deliveries[delivery_id], **changes)

    async def dequeue(self, subscription_id: str, delivery_id: str) -> None:
        self.queued.discard(delivery_id)


def _deps(
    store: DeliveriesAndQueue, *, max_queue: int = 100, disabled_max_age: timedelta = timedelta(hours=1)
) -> NotifyDeps:
    rules = NotifyRules(
        schedule=RetrySchedule(),
        cap=FrequencyCap(limit=3, window=timedelta(days=7)),
        rotation_overlap=timedelta(hours=1),
        attempt_lease=timedelta(minutes=1),
        max_queue=max_queue,
        disabled_max_age=disabled_max_age,
    )
    return NotifyDeps(store=cast(NotifyStore, store), clock=FixedClock(), rules=rules)


def _entries(*minutes_ago: int) -> list[QueueEntry]:
    return [QueueEntry(f"dlv_{age}", NOW, NOW - timedelta(minutes=age)) for age in minutes_ago]


async def test_a_queue_over_its_cap_gives_up_on_its_oldest_waiting_deliveries_and_leaves_attempts_under_way() -> None:
    entries = _entries(5, 50, 10, 40, 30)
    store = DeliveriesAndQueue(entries)
    moved = await trim_queue(_deps(store, max_queue=2), SUBSCRIPTION, entries, busy={"dlv_50"})
    assert moved == {"queue_full": 3}
    assert store.queued == {"dlv_5", "dlv_50"}
    assert {d.delivery_id for d in store.deliveries.values() if d.status is DeliveryStatus.DEAD} == {
        "dlv_40",
        "dlv_30",
        "dlv_10",
    }
    assert store.deliveries["dlv_40"].last_error == "queue_full"


async def test_a_queue_within_its_cap_is_left_alone() -> None:
    entries = _entries(5, 10)
    store = DeliveriesAndQueue(entries)
    assert await trim_queue(_deps(store, max_queue=2), SUBSCRIPTION, entries, busy=()) == {}
    assert store.queued == {"dlv_5", "dlv_10"}


async def test_a_disabled_subscription_gives_up_only_on_what_waited_longer_than_the_max_age() -> None:
    entries = _entries(5, 61, 120)
    store = DeliveriesAndQueue(entries)
    disabled = replace(SUBSCRIPTION, enabled=False)
    moved = await trim_queue(_deps(store), disabled, entries, busy=())
    assert moved == {"subscription_disabled": 2}
    assert store.queued == {"dlv_5"}
    assert store.deliveries["dlv_120"].last_error == "subscription_disabled"


async def test_an_enabled_subscription_keeps_old_deliveries_however_long_they_waited() -> None:
    entries = _entries(5, 600)
    store = DeliveriesAndQueue(entries)
    assert await trim_queue(_deps(store), SUBSCRIPTION, entries, busy=()) == {}


async def test_an_expired_entry_whose_delivery_had_ended_counts_as_gone_from_a_disabled_queue() -> None:
    entries = _entries(120, 10, 5)
    store = DeliveriesAndQueue(entries)
    # Sent already: its entry was left in the queue by a process that died before taking it out.
    store.deliveries["dlv_120"] = replace(store.deliveries["dlv_120"], status=DeliveryStatus.SUCCEEDED)
    disabled = replace(SUBSCRIPTION, enabled=False)
    moved = await trim_queue(_deps(store, max_queue=2), disabled, entries, busy=())
    assert moved == {"subscription_disabled": 0}
    assert store.queued == {"dlv_10", "dlv_5"}
    assert store.deliveries["dlv_10"].status is DeliveryStatus.PENDING
