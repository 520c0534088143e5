"""The delivery worker: one lane per subscription, each with its own queue and its own limit of attempts in flight.

A slow or dead endpoint fills only its own lane: its attempts wait out their timeout while the other lanes go
on. Everything a lane knows is in the store (its queue document, the deliveries, the attempt claims), so a
restarted worker resumes where the previous one stopped, and several instances can share the work.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from services.notify.domain.subscriptions import Subscription
from services.notify.handlers import (
    AttemptOutcome,
    MailchimpTurnTakenError,
    NotifyDeps,
    attempt_delivery,
    owner_id,
    trim_queue,
    unannounced_outcomes,
)
from services.notify.metrics import NotifyMetrics
from services.notify.ports import Outbound, QueueEntry
from shared.tasks import cancel_and_wait

log = logging.getLogger(__name__)

Announce = Callable[[AttemptOutcome], Awaitable[None]]


@dataclass
class _Lane:
    subscription: Subscription
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    # Deliveries whose last start recorded no attempt (another instance holds it, another attempt of this process is
    # under way for the same person to the same Mailchimp subscription, or it raised), and until when the
    # lane leaves them alone: their queue entries are still due, so a lane woken by that start would take them again
    # at once, turn after turn, for as long as the other attempt or the failure lasts.
    resting: dict[str, datetime] = field(default_factory=dict)
    # Set when its subscription is disabled or deleted: the lane ends at its next turn and starts nothing more, even
    # when the cancellation that drops it is lost (see `shared.tasks.cancel_and_wait`).
    dropped: bool = False


class DeliveryWorker:
    def __init__(
        self,
        deps: NotifyDeps,
        outbound: Outbound,
        metrics: NotifyMetrics,
        announce: Announce,
        *,
        max_in_flight: int,
        poll_seconds: float,
    ) -> None:
        self._deps = deps
        self._outbound = outbound
        self._metrics = metrics
        self._announce = announce
        self._max_in_flight = max_in_flight
        self._poll = poll_seconds
        self._owner = owner_id()
        self._random = random.SystemRandom()
        self._lanes: dict[str, _Lane] = {}
        # Lanes dropped and not yet ended: a stop waits for them as for the others.
        self._dropped_lanes: set[asyncio.Task[None]] = set()
        # Every delivery this process is attempting, whichever lane started it (a lane dropped when its subscription
        # was disabled leaves its attempts running): a second attempt at one of them would take over its claim.
        self._attempting: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._refresh = asyncio.Event()
        # Set by `stop`: the loops end at their next turn even when a cancellation was lost (see
        # `shared.tasks.cancel_and_wait`).
        self._stopping = False
        # Disabled subscriptions have no lane; their queues are looked at this often, for what waited too long.
        self._disabled_sweep_seconds = min(60.0, max(poll_seconds, deps.rules.disabled_max_age.total_seconds() / 10))
        self._next_disabled_sweep = 0.0

    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="notify-supervisor")

    async def stop(self) -> None:
        self._stopping = True
        self._refresh.set()
        for lane in self._lanes.values():
            lane.wake.set()
        tasks: list[asyncio.Task[None]] = [] if self._supervisor is None else [self._supervisor]
        # Attempts of lanes dropped since included: cut by the shutdown, each frees its claim for the next start.
        tasks.extend(self._attempting.values())
        tasks.extend(lane.task for lane in self._lanes.values() if lane.task is not None)
        tasks.extend(self._dropped_lanes)
        await cancel_and_wait(tasks)
        self._lanes.clear()
        self._attempting.clear()

    def wake(self, subscription_id: str) -> None:
        """New work for a subscription: its lane looks at its queue now rather than at its next poll."""
        lane = self._lanes.get(subscription_id)
        if lane is None:
            self._refresh.set()
        else:
            lane.wake.set()

    def subscriptions_changed(self) -> None:
        self._refresh.set()

    async def _supervise(self) -> None:
        while not self._stopping:
            # Cleared before reading, not after: a change made while the subscriptions are read is read next round.
            self._refresh.clear()
            try:
                await self._sync_lanes()
            except Exception:
                log.exception("notify could not read its subscriptions; retrying")
            try:
                for outcome in await unannounced_outcomes(self._deps):
                    await self._announce(outcome)
            except Exception:
                log.exception("notify could not publish the outcomes left behind; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._refresh.wait()

    async def _sync_lanes(self) -> None:
        subscriptions = await self._deps.store.subscriptions(readable_only=True)
        current = {sub.subscription_id: sub for sub in subscriptions if sub.enabled}
        if asyncio.get_running_loop().time() >= self._next_disabled_sweep:
            for subscription in subscriptions:
                if not subscription.enabled:
                    queue = await self._deps.store.queue(subscription.subscription_id)
                    await self._trim(subscription, queue, self._attempting)
            self._next_disabled_sweep = asyncio.get_running_loop().time() + self._disabled_sweep_seconds
        for subscription_id in list(self._lanes):
            if subscription_id not in current:
                lane = self._lanes.pop(subscription_id)
                lane.dropped = True
                lane.wake.set()
                if lane.task is not None and not lane.task.done():
                    lane.task.cancel()
                    self._dropped_lanes.add(lane.task)
                    lane.task.add_done_callback(self._dropped_lanes.discard)
                self._metrics.forget_subscription(subscription_id)
        for subscription_id, subscription in current.items():
            existing = self._lanes.get(subscription_id)
            if existing is None and not self._stopping:
                lane = _Lane(subscription)
                lane.task = asyncio.create_task(self._run_lane(lane), name=f"notify-lane-{subscription_id}")
                self._lanes[subscription_id] = lane
            elif existing is not None:
                existing.subscription = subscription

    async def _run_lane(self, lane: _Lane) -> None:
        while not self._stopping and not lane.dropped:
            # Cleared before filling, not after: an attempt finishing or work queued during the fill fills it again.
            lane.wake.clear()
            try:
                pause = await self._fill_lane(lane)
            except Exception:
                log.exception("notify lane %s failed; retrying", lane.subscription.subscription_id)
                pause = self._poll
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await lane.wake.wait()

    async def _fill_lane(self, lane: _Lane) -> float:
        """Starts the lane's due attempts up to its limit; returns how long it may sleep before the next is due."""
        subscription = lane.subscription
        if not subscription.enabled:
            # Disabled by an answer of its own (410 Gone): nothing more goes there, even before the lanes are synced.
            return self._poll
        now = self._deps.clock.now()
        entries = await self._deps.store.queue(subscription.subscription_id)
        if await self._trim(subscription, entries, self._attempting):
            entries = await self._deps.store.queue(subscription.subscription_id)
        if lane.dropped or self._stopping:
            # Nothing more starts. A dropped lane gets here when its cancellation was lost: its gauges are forgotten
            # already, and must not show again.
            return self._poll
        self._metrics.queue_depth.labels(subscription.subscription_id).set(len(entries))
        oldest = min((entry.since for entry in entries), default=None)
        self._metrics.oldest_pending.labels(subscription.subscription_id).set(
            0 if oldest is None else max((now - oldest).total_seconds(), 0)
        )
        limit = subscription.max_in_flight or self._max_in_flight
        lane.resting = {delivery_id: until for delivery_id, until in lane.resting.items() if until > now}
        # A resting delivery counts as due when its rest ends, so the lane sleeps until then unless woken.
        waiting = sorted(
            (
                replace(entry, due_at=max(entry.due_at, lane.resting.get(entry.delivery_id, entry.due_at)))
                for entry in entries
                if entry.delivery_id not in self._attempting
            ),
            key=lambda e: e.due_at,
        )
        for entry in waiting:
            if len(lane.in_flight) >= limit or entry.due_at > now:
                break
            task = asyncio.create_task(self._attempt(lane, entry.delivery_id))
            lane.in_flight[entry.delivery_id] = task
            self._attempting[entry.delivery_id] = task
        later = [entry.due_at for entry in waiting if entry.due_at > now and entry.delivery_id not in self._attempting]
        if not later:
            return self._poll
        return min(max((min(later) - now).total_seconds(), 0.001), self._poll)

    async def _trim(self, subscription: Subscription, entries: list[QueueEntry], busy: Collection[str]) -> int:
        """Gives up on what the queue may no longer hold (too many, or disabled too long); returns how many."""
        if not entries:
            return 0
        moved = await trim_queue(self._deps, subscription, entries, busy)
        for reason, count in moved.items():
            self._metrics.evicted.labels(subscription.subscription_id, reason).inc(count)
        return sum(moved.values())

    async def _attempt(self, lane: _Lane, delivery_id: str) -> None:
        try:
            # The lane's copy may be older than a 410 another attempt met, or an operator's change: read it again.
            subscription = await self._deps.store.subscription(lane.subscription.subscription_id)
            if subscription is None or not subscription.enabled:
                lane.subscription = replace(lane.subscription, enabled=False)
                self._refresh.set()
                return
            lane.subscription = subscription
            outcome = await attempt_delivery(
                delivery_id, subscription, self._deps, self._outbound, owner=self._owner, draw=self._random.random()
            )
            if outcome is None:
                self._rest(lane, delivery_id)
            else:
                self._observe(outcome, subscription)
                await self._announce(outcome)
                if outcome.verdict == "gone":
                    lane.subscription = replace(lane.subscription, enabled=False)
                    self._refresh.set()
        except MailchimpTurnTakenError:
            # Its rest holds no slot; a Mailchimp member is set from what is known of the person when an attempt is
            # made, so it does not matter which of their deliveries comes first.
            self._rest(lane, delivery_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notify attempt at %s failed", delivery_id)
            self._rest(lane, delivery_id)
        finally:
            lane.in_flight.pop(delivery_id, None)
            self._attempting.pop(delivery_id, None)
            lane.wake.set()

    def _rest(self, lane: _Lane, delivery_id: str) -> None:
        lane.resting[delivery_id] = self._deps.clock.now() + timedelta(seconds=self._poll)

    def _observe(self, outcome: AttemptOutcome, subscription: Subscription) -> None:
        self._metrics.deliveries.labels(subscription.subscription_id, outcome.verdict).inc()
        if outcome.answer is not None:
            self._metrics.attempt_seconds.labels(subscription.subscription_id).observe(outcome.answer.duration_seconds)
        if outcome.verdict in ("suppressed", "cancelled"):
            self._metrics.suppressed.labels(subscription.organisation_id, outcome.reason or outcome.verdict).inc()
