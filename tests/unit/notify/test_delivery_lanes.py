"""A subscription's lane: what it starts and when, and what an attempt that cannot send does to its delivery.

The worker polls once an hour here, so whatever a lane does before then it does because it was woken; the loop is
driven a fixed number of turns, never timed.
"""

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from services.notify.adapters.http import SafeOutbound
from services.notify.domain.contacts import Contact, OptOut
from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.mailchimp import subscriber_hash
from services.notify.domain.messages import attempt_id
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.signing import new_secret
from services.notify.domain.subscriptions import (
    DisabledReason,
    EventFilter,
    MessageKind,
    SigningSecret,
    Subscription,
    TargetKind,
)
from services.notify.domain.targets import OutboundPolicy
from services.notify.handlers import (
    AttemptOutcome,
    MailchimpTurnTakenError,
    NotifyDeps,
    NotifyRules,
    _uninterrupted,
    attempt_delivery,
)
from services.notify.metrics import NotifyMetrics
from services.notify.ports import (
    AttemptRecord,
    Delivery,
    DeliveryStatus,
    HttpAnswer,
    NotifyStore,
    Outbound,
    QueueEntry,
)
from services.notify.worker import DeliveryWorker
from tests.unit.notify.test_mailchimp_sync import GRANTED, PREFIX, TARGET, Mailchimp, changed

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SUBSCRIPTION = Subscription(
    "sub_a",
    "org",
    TargetKind.WEBHOOK,
    "https://receiver.example/hook",
    EventFilter(),
    True,
    NOW,
    secrets=(SigningSecret(new_secret(), NOW),),
)
AN_HOUR = 3600.0
# Far more turns of the event loop than a lane needs to start, attempt and record a few deliveries.
TURNS = 200


class SettableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class LaneStore:
    """The part of the store a lane and its attempts use, counting the calls a lane that never rests repeats."""

    def __init__(self, subscription: Subscription = SUBSCRIPTION) -> None:
        self.subscription_now = subscription
        self.deliveries: dict[str, Delivery] = {}
        self.queued: dict[str, QueueEntry] = {}
        self.claims: dict[str, AttemptRecord] = {}
        self.claim_calls = 0
        self.delivery_reads = 0
        self.unreadable: set[str] = set()
        # Runs once the queue is read, before the lane gets what was read: work arriving meanwhile.
        self.while_queue_is_read: Callable[[], None] | None = None

    def add(self, delivery_id: str) -> None:
        message = f"msg_{delivery_id}"
        kind = MessageKind.PROFILE_CHANGED
        # Every delivery is queued naming its person: one naming nobody is an erased person's.
        self.deliveries[delivery_id] = Delivery(
            delivery_id, "org", SUBSCRIPTION.subscription_id, message, kind, {}, NOW, NOW, "per_0", next_attempt_at=NOW
        )
        self.queued[delivery_id] = QueueEntry(delivery_id, NOW, NOW)

    async def subscriptions(
        self, organisation_id: str | None = None, *, readable_only: bool = False
    ) -> list[Subscription]:
        return [self.subscription_now]

    async def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscription_now

    async def disable_subscription(self, subscription_id: str, reason: str, code: DisabledReason) -> None:
        self.subscription_now = replace(
            self.subscription_now, enabled=False, disabled_reason=reason, disabled_reason_code=code.value
        )

    async def queue(self, subscription_id: str) -> list[QueueEntry]:
        entries = list(self.queued.values())
        if self.while_queue_is_read is not None:
            self.while_queue_is_read()
        return entries

    async def enqueue(self, subscription_id: str, delivery_id: str, due_at: datetime, since: datetime) -> None:
        self.queued[delivery_id] = QueueEntry(delivery_id, due_at, since)

    async def dequeue(self, subscription_id: str, delivery_id: str) -> None:
        self.queued.pop(delivery_id, None)

    async def delivery(self, delivery_id: str) -> Delivery | None:
        self.delivery_reads += 1
        if delivery_id in self.unreadable:
            raise ConnectionError("the store did not answer")
        return self.deliveries.get(delivery_id)

    async def update_delivery(self, delivery_id: str, changes: Mapping[str, Any]) -> None:
        self.deliveries[delivery_id] = replace(self.deliveries[delivery_id], **changes)

    async def claim_attempt(self, record: AttemptRecord) -> AttemptRecord | None:
        self.claim_calls += 1
        if (held := self.claims.get(record.attempt_id)) is not None:
            return held
        self.claims[record.attempt_id] = record
        return None

    async def finish_attempt(self, record: AttemptRecord) -> None:
        self.claims[record.attempt_id] = record

    async def release_attempt(self, attempt_id_: str) -> None:
        self.claims.pop(attempt_id_, None)

    async def expect_announcement(self, attempt_id_: str, at: datetime) -> None:
        pass

    async def unannounced(self, noted_before: datetime, limit: int) -> list[str]:
        return []

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        return False


class Receiver:
    """Takes every message."""

    def __init__(self) -> None:
        self.requests = 0

    async def request(self, method: str, url: str, **_: Any) -> HttpAnswer:
        self.requests += 1
        return HttpAnswer(204)


def _deps(store: LaneStore, clock: SettableClock | None = None) -> NotifyDeps:
    rules = NotifyRules(RetrySchedule(), FrequencyCap(), timedelta(hours=24), timedelta(minutes=1))
    return NotifyDeps(store=cast(NotifyStore, store), clock=clock or SettableClock(NOW), rules=rules)


def _worker(
    store: LaneStore,
    outbound: Outbound,
    *,
    max_in_flight: int = 4,
    registry: CollectorRegistry | None = None,
    clock: SettableClock | None = None,
) -> DeliveryWorker:
    async def announce(outcome: AttemptOutcome) -> None:
        pass

    return DeliveryWorker(
        _deps(store, clock),
        outbound,
        NotifyMetrics(registry or CollectorRegistry()),
        announce,
        max_in_flight=max_in_flight,
        poll_seconds=AN_HOUR,
    )


async def _run_for_a_while(worker: DeliveryWorker) -> None:
    await worker.start()
    try:
        for _ in range(TURNS):
            await asyncio.sleep(0)
    finally:
        await worker.stop()


class CancellationLostInARead(LaneStore):
    """A queue read under way when the worker stops, whose answer comes with the cancellation: Python 3.11's
    `asyncio.wait_for`, which PyMongo awaits every command through, then returns the answer and the cancellation is
    lost. A read after that one never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.lost = 0

    async def queue(self, subscription_id: str) -> list[QueueEntry]:
        self.reading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if self.lost:
                raise
            self.lost += 1
        return await super().queue(subscription_id)


# Far longer than stopping takes: reached only by a worker that does not stop.
HANG_GUARD_SECONDS = 30


async def test_a_worker_stops_though_a_read_under_way_loses_its_cancellation_and_starts_nothing_more() -> None:
    store, receiver = CancellationLostInARead(), Receiver()
    store.add("dlv_waiting")
    worker = _worker(store, receiver)
    await worker.start()
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await store.reading.wait()
        await worker.stop()

    assert store.lost == 1
    assert receiver.requests == 0


async def test_work_queued_while_a_lane_reads_its_queue_is_sent_without_waiting_for_the_next_poll() -> None:
    store, receiver = LaneStore(), Receiver()
    worker = _worker(store, receiver)

    def queue_new_work() -> None:
        store.while_queue_is_read = None
        store.add("dlv_new")
        worker.wake(SUBSCRIPTION.subscription_id)

    store.while_queue_is_read = queue_new_work
    await _run_for_a_while(worker)

    assert store.deliveries["dlv_new"].status is DeliveryStatus.SUCCEEDED


async def test_a_slot_freed_by_a_finished_attempt_starts_the_next_due_delivery_at_once() -> None:
    store, receiver = LaneStore(), Receiver()
    store.add("dlv_first")
    store.add("dlv_second")
    await _run_for_a_while(_worker(store, receiver, max_in_flight=1))

    assert receiver.requests == 2
    assert {delivery.status for delivery in store.deliveries.values()} == {DeliveryStatus.SUCCEEDED}


async def test_a_delivery_another_instance_is_attempting_is_not_claimed_again_and_again_while_it_does() -> None:
    store, receiver = LaneStore(), Receiver()
    store.add("dlv_held")
    store.claims[attempt_id("dlv_held", 1)] = AttemptRecord(attempt_id("dlv_held", 1), "dlv_held", 1, NOW, "worker_b")
    await _run_for_a_while(_worker(store, receiver))

    assert store.claim_calls == 1
    assert receiver.requests == 0
    assert store.deliveries["dlv_held"].status is DeliveryStatus.PENDING


async def test_a_delivery_whose_attempt_raised_waits_a_poll_before_its_lane_starts_it_again() -> None:
    store, receiver = LaneStore(), Receiver()
    store.add("dlv_unreadable")
    store.unreadable.add("dlv_unreadable")
    await _run_for_a_while(_worker(store, receiver))

    assert store.delivery_reads == 1


async def _never_resolve(host: str, port: int) -> list[str]:
    raise AssertionError(f"nothing is sent to {host}")


async def test_a_target_url_httpx_cannot_send_to_is_given_up_at_its_first_attempt_saying_why() -> None:
    # A soft hyphen in the host: a subscription stored before its URL was read as IDNA may hold one, and httpx refuses
    # it at every send. Tried again, it would fail for three days.
    subscription = replace(SUBSCRIPTION, url="https://receiver\u00adexample.com/hook")
    store, clock = LaneStore(subscription), SettableClock(NOW)
    store.add("dlv_1")
    deps = _deps(store, clock)
    outbound = SafeOutbound(OutboundPolicy(), timeout_seconds=1, resolve=_never_resolve)
    await outbound.start()
    try:
        first = await attempt_delivery("dlv_1", subscription, deps, outbound, owner="worker_a", draw=0.5)
    finally:
        await outbound.close()

    assert first is not None
    given_up = store.deliveries["dlv_1"]
    assert given_up.status is DeliveryStatus.DEAD
    assert given_up.attempts == 1
    assert "the host is not a valid domain name" in (given_up.last_error or "")
    assert "dlv_1" not in store.queued


async def test_a_delivery_whose_claim_a_dead_instance_left_is_sent_at_once_once_taken_over() -> None:
    store, receiver = LaneStore(), Receiver()
    store.add("dlv_left")
    lease_ago = NOW - timedelta(minutes=2)
    store.claims[attempt_id("dlv_left", 1)] = AttemptRecord(
        attempt_id("dlv_left", 1), "dlv_left", 1, lease_ago, "worker_b"
    )
    await _run_for_a_while(_worker(store, receiver))

    assert receiver.requests == 1
    assert store.deliveries["dlv_left"].status is DeliveryStatus.SUCCEEDED
    assert store.deliveries["dlv_left"].attempts == 2


async def test_a_delivery_whose_failed_attempt_a_dead_instance_recorded_is_sent_at_once_once_taken_over() -> None:
    store, receiver = LaneStore(), Receiver()
    store.add("dlv_failed")
    failed = AttemptRecord(attempt_id("dlv_failed", 1), "dlv_failed", 1, NOW, "worker_b")
    store.claims[failed.attempt_id] = replace(failed, finished_at=NOW, outcome="retry", retry_at=NOW)
    await _run_for_a_while(_worker(store, receiver))

    assert receiver.requests == 1
    assert store.deliveries["dlv_failed"].status is DeliveryStatus.SUCCEEDED


class EnqueueFailingOnce(LaneStore):
    """A store that fails to move a queue entry once, as one going away between two writes does."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    async def enqueue(self, subscription_id: str, delivery_id: str, due_at: datetime, since: datetime) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("the store did not answer")
        await super().enqueue(subscription_id, delivery_id, due_at, since)


class Throttling:
    """Busy for an hour, and says so."""

    def __init__(self) -> None:
        self.requests = 0

    async def request(self, method: str, url: str, **_: Any) -> HttpAnswer:
        self.requests += 1
        return HttpAnswer(503, error="busy", retry_after="3600")


async def test_a_delivery_queued_sooner_than_its_last_attempt_said_waits_until_then() -> None:
    store, receiver = EnqueueFailingOnce(), Throttling()
    store.add("dlv_busy")
    deps = _deps(store)
    with pytest.raises(ConnectionError):
        await attempt_delivery("dlv_busy", SUBSCRIPTION, deps, receiver, owner="worker_a", draw=0.5)
    an_hour_on = NOW + timedelta(hours=1)
    assert store.deliveries["dlv_busy"].next_attempt_at == an_hour_on
    assert store.queued["dlv_busy"].due_at == NOW, "the outcome is stored, the queue entry left where it was"

    again = await attempt_delivery("dlv_busy", SUBSCRIPTION, deps, receiver, owner="worker_a", draw=0.5)

    assert again is None
    assert receiver.requests == 1
    assert store.queued["dlv_busy"].due_at == an_hour_on


async def test_an_outcome_being_stored_is_stored_whole_however_often_the_stop_cancels() -> None:
    release = asyncio.Event()
    stored: list[str] = []

    async def recording() -> AttemptOutcome:
        await release.wait()
        stored.append("outcome")
        return cast(AttemptOutcome, "outcome")

    storing = asyncio.create_task(_uninterrupted(recording()))
    await asyncio.sleep(0)
    for _ in range(3):
        # As `cancel_and_wait` does to a task that goes on.
        storing.cancel()
        await asyncio.sleep(0)
    release.set()

    async with asyncio.timeout(HANG_GUARD_SECONDS):
        with pytest.raises(asyncio.CancelledError):
            await storing
    assert stored == ["outcome"]


class DroppedWhileReading(CancellationLostInARead):
    """A lane's queue read under way when its subscription is disabled, whose answer comes with the cancellation
    that drops the lane, so that the cancellation is lost. Counts the attempts started, each of which reads its
    subscription first."""

    def __init__(self) -> None:
        super().__init__()
        self.subscription_reads = 0

    async def subscription(self, subscription_id: str) -> Subscription | None:
        self.subscription_reads += 1
        return await super().subscription(subscription_id)


def _lane_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name().startswith("notify-lane-")]


def _lane_gauges(registry: CollectorRegistry) -> list[str]:
    return [
        sample.name
        for metric in registry.collect()
        if metric.name in ("parterre_notify_queue_depth", "parterre_notify_oldest_pending_seconds")
        for sample in metric.samples
    ]


async def test_a_lane_dropped_while_its_read_loses_the_cancellation_ends_and_starts_nothing() -> None:
    store, receiver, registry = DroppedWhileReading(), Receiver(), CollectorRegistry()
    store.add("dlv_waiting")
    worker = _worker(store, receiver, registry=registry)
    await worker.start()
    try:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            await store.reading.wait()
        (lane,) = _lane_tasks()
        store.subscription_now = replace(SUBSCRIPTION, enabled=False)
        worker.subscriptions_changed()
        for _ in range(TURNS):
            await asyncio.sleep(0)

        assert store.lost == 1
        assert lane.done()
        assert _lane_tasks() == []
        assert store.subscription_reads == 0
        # Forgotten when the lane was dropped, and not shown again by the lane going on.
        assert _lane_gauges(registry) == []
    finally:
        await worker.stop()
    assert receiver.requests == 0


class SlowToFree(LaneStore):
    """Frees a claim only once `freeing` is set: a stop's cancellations arrive while it does."""

    def __init__(self) -> None:
        super().__init__()
        self.freeing = asyncio.Event()

    async def release_attempt(self, attempt_id_: str) -> None:
        await self.freeing.wait()
        await super().release_attempt(attempt_id_)


class Unanswering:
    """A receiver that never answers: the attempt is under way when the stop comes."""

    def __init__(self) -> None:
        self.sending = asyncio.Event()

    async def request(self, method: str, url: str, **_: Any) -> HttpAnswer:
        self.sending.set()
        await asyncio.Event().wait()
        raise AssertionError("never answered")


async def test_a_claim_freed_at_a_stop_is_freed_whole_however_often_the_stop_cancels() -> None:
    store, receiver = SlowToFree(), Unanswering()
    store.add("dlv_cut")
    attempt = asyncio.create_task(
        attempt_delivery("dlv_cut", SUBSCRIPTION, _deps(store), receiver, owner="worker_a", draw=0.5)
    )
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await receiver.sending.wait()
    assert list(store.claims) == [attempt_id("dlv_cut", 1)]
    for _ in range(3):
        # As `cancel_and_wait` does to a task that goes on.
        attempt.cancel()
        await asyncio.sleep(0)
    store.freeing.set()

    async with asyncio.timeout(HANG_GUARD_SECONDS):
        with pytest.raises(asyncio.CancelledError):
            await attempt
    assert store.claims == {}


class PersonsStore(LaneStore):
    """A lane's store whose deliveries are about persons: per_1, whose contact is `contact_now`, and `others`, with
    the segments each is in."""

    def __init__(self, subscription: Subscription, contact: Contact) -> None:
        super().__init__(subscription)
        self.contact_now = contact
        self.others: dict[str, Contact] = {}
        self.memberships: set[tuple[str, str]] = set()

    def add_about(
        self,
        delivery_id: str,
        person_id: str,
        kind: MessageKind = MessageKind.PROFILE_CHANGED,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.add(delivery_id)
        self.deliveries[delivery_id] = replace(
            self.deliveries[delivery_id],
            subscription_id=self.subscription_now.subscription_id,
            person_id=person_id,
            kind=kind.value,
            data=dict(data or {}),
        )

    async def contact(self, organisation_id: str, person_id: str) -> Contact | None:
        return self.contact_now if person_id == "per_1" else self.others.get(person_id)

    async def record_mailchimp_member(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str
    ) -> None:
        if person_id != "per_1":
            return
        members = {**self.contact_now.mailchimp_members, subscription_id: email}
        self.contact_now = replace(self.contact_now, mailchimp_members=members)

    async def is_member(self, organisation_id: str, segment: str, person_id: str) -> bool:
        return (segment, person_id) in self.memberships

    async def record_opt_out(self, organisation_id: str, person_id: str, opt_out: OptOut) -> None:
        raise AssertionError("nobody opted out")


class SlowToCreate(Mailchimp):
    """Answers the creation of a member under `slow` only once `answering` is set."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.slow = subscriber_hash(slow)
        self.creating = asyncio.Event()
        self.answering = asyncio.Event()

    async def request(self, method: str, url: str, *, body: bytes = b"", **rest: Any) -> HttpAnswer:
        if method == "PUT" and url.removeprefix(PREFIX).partition("?")[0] == self.slow:
            self.creating.set()
            await self.answering.wait()
        return await super().request(method, url, body=body, **rest)


async def test_a_mailchimp_attempt_about_a_person_another_attempt_is_sending_for_waits_its_turn() -> None:
    subscription = replace(SUBSCRIPTION, subscription_id="sub_mc", kind=TargetKind.MAILCHIMP, mailchimp=TARGET)
    granted = changed(Contact("per_1"), 1, emails=["old@example.com"], **GRANTED)
    store, mailchimp = PersonsStore(subscription, granted), SlowToCreate("old@example.com")
    outbound = cast(Outbound, mailchimp)
    store.add_about("dlv_first", "per_1")
    store.add_about("dlv_second", "per_1")
    deps = _deps(store)

    first = asyncio.create_task(attempt_delivery("dlv_first", subscription, deps, outbound, owner="worker_a", draw=0.5))
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await mailchimp.creating.wait()
    # The person gives a new address while the first attempt, which read the old one, is under way.
    store.contact_now = changed(store.contact_now, 2, emails=["new@example.com", "old@example.com"])
    claims_before = store.claim_calls
    # Left for when the first has ended, claiming nothing and holding no slot meanwhile.
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        with pytest.raises(MailchimpTurnTakenError):
            await attempt_delivery("dlv_second", subscription, deps, outbound, owner="worker_a", draw=0.5)
    assert store.claim_calls == claims_before
    mailchimp.answering.set()
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await first
    # Its rest over, the lane starts it again.
    second = await attempt_delivery("dlv_second", subscription, deps, outbound, owner="worker_a", draw=0.5)

    assert second is not None
    # One member, under the new address: the old one was moved, not subscribed again beside it.
    assert list(mailchimp.members) == [subscriber_hash("new@example.com")]
    assert mailchimp.status("new@example.com") == "subscribed"
    assert store.contact_now.mailchimp_members == {"sub_mc": "new@example.com"}
    assert {store.deliveries[name].status for name in ("dlv_first", "dlv_second")} == {DeliveryStatus.SUCCEEDED}


class TaggingMailchimp(SlowToCreate):
    """Keeps, in order, the segment tags it was asked to set: (segment, "active" or "inactive")."""

    def __init__(self, slow: str) -> None:
        super().__init__(slow)
        self.tagged: list[tuple[str, str]] = []

    async def request(self, method: str, url: str, *, body: bytes = b"", **rest: Any) -> HttpAnswer:
        if url.endswith("/tags"):
            self.tagged.extend((tag["name"], tag["status"]) for tag in json.loads(body)["tags"])
        return await super().request(method, url, body=body, **rest)


async def test_a_persons_mailchimp_delivery_left_for_their_turn_holds_no_slot_and_tags_the_membership_as_it_is() -> (
    None
):
    subscription = replace(
        SUBSCRIPTION, subscription_id="sub_mc", kind=TargetKind.MAILCHIMP, mailchimp=TARGET, max_in_flight=2
    )
    store = PersonsStore(subscription, changed(Contact("per_1"), 1, emails=["patron@example.com"], **GRANTED))
    store.others["per_2"] = changed(Contact("per_2"), 1, emails=["other@example.com"], **GRANTED)
    clock = SettableClock(NOW)
    mailchimp = TaggingMailchimp("patron@example.com")
    segment = {"person_id": "per_1", "segment": "abonnes-2026-2027"}
    store.add_about("dlv_profile", "per_1")
    # Queued in this order, the patron leaving the segment then coming back: they are in it now.
    store.add_about("dlv_exited", "per_1", MessageKind.SEGMENT_EXITED, segment)
    store.add_about("dlv_entered", "per_1", MessageKind.SEGMENT_ENTERED, segment)
    store.memberships.add(("abonnes-2026-2027", "per_1"))
    store.add_about("dlv_someone_else", "per_2")
    worker = _worker(store, cast(Outbound, mailchimp), max_in_flight=2, clock=clock)
    await worker.start()
    try:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            await mailchimp.creating.wait()
        for _ in range(TURNS):
            await asyncio.sleep(0)
        # The patron's other deliveries found their first under way and rest; the lane's second slot went on.
        assert store.deliveries["dlv_someone_else"].status is DeliveryStatus.SUCCEEDED
        assert mailchimp.tagged == []
        mailchimp.answering.set()
        for _ in range(3):
            for _ in range(TURNS):
                await asyncio.sleep(0)
            # Their rests end, one after another.
            clock.at += timedelta(seconds=AN_HOUR + 1)
            worker.wake(subscription.subscription_id)
        for _ in range(TURNS):
            await asyncio.sleep(0)
    finally:
        await worker.stop()

    assert {delivery.status for delivery in store.deliveries.values()} == {DeliveryStatus.SUCCEEDED}
    # Whichever came first, the tag says what the membership is.
    assert mailchimp.tagged == [("abonnes-2026-2027", "active")] * 2
