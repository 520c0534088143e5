"""Random histories of facts, merges, unmerges and erasures, some messages delivered twice: every profile ends up
counting exactly the facts identity says are its person's, and nothing names an erased person."""

import asyncio
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.profile.handlers import ProfileBusyError
from services.profile.ports import ProfileStore
from shared.events import Envelope
from shared.kafka import record_for
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import World

PERSONS = tuple(f"per_{name}" for name in ("anne", "bea", "cleo", "dora", "eve"))


@dataclass
class Identity:
    """What identity knows: who is merged into whom by which merge, who is erased, and each person's own facts."""

    own: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PERSONS, 0))
    merged_into: dict[str, str | None] = field(default_factory=dict)
    merged_by: dict[str, str] = field(default_factory=dict)
    # merge id -> (survivor, the persons it merged, those of them still held: an erased person is let go)
    merges: dict[str, tuple[str, list[str], list[str]]] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)

    def active(self, person_id: str) -> bool:
        return person_id not in self.erased and person_id not in self.merged_by

    def tickets(self, person_id: str) -> int:
        """The person's own tickets and those of everyone merged into it, in turn with theirs."""
        held = [
            other
            for other, survivor in self.merged_into.items()
            if survivor == person_id and other not in self.erased and other in self.merges[self.merged_by[other]][2]
        ]
        return self.own[person_id] + sum(self.tickets(other) for other in held)


steps = st.lists(
    st.tuples(
        st.sampled_from(["fact", "fact", "fact", "merge", "merge", "unmerge", "erase", "again"]),
        st.integers(0, len(PERSONS) - 1),
        st.integers(0, len(PERSONS) - 1),
        st.integers(1, 3),
    ),
    max_size=25,
)


History = list[tuple[str, int, int, int]]
properties = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@properties
@given(steps)
def test_random_histories_count_each_fact_once_where_identity_puts_it(history: History) -> None:
    asyncio.run(_play(history, None))


@properties
@given(steps, st.randoms(use_true_random=False))
def test_random_histories_delivered_in_another_order_across_persons_end_the_same(
    history: History, order: random.Random
) -> None:
    # Kafka keeps one key's messages in order (a person's facts, a survivor's merges), not messages of two keys.
    asyncio.run(_play(history, order))


@properties
@given(steps, st.integers(0, 2**32))
def test_random_histories_handled_for_several_persons_at_once_end_the_same(history: History, seed: int) -> None:
    # As the consumer does: each key's messages in order, different keys side by side, their store calls mixed.
    asyncio.run(_play(history, random.Random(seed), at_once=True))


async def _play(history: History, order: random.Random | None, *, at_once: bool = False) -> None:
    store = MemoryProfileStore()

    async def documents() -> list[str]:
        return store.documents()

    identity = Identity()
    world = World(cast(ProfileStore, Jittery(store, order)) if at_once and order else store, documents)
    sent: list[Envelope] = []
    for number, (kind, first, second, count) in enumerate(history):
        person, other = PERSONS[first], PERSONS[second]
        envelope: Envelope | None = None
        if kind == "fact" and person not in identity.erased:
            # A fact for a person merged away is a late one: identity resolved it before the merge.
            envelope = world.purchase(f"sale-{number}", person, tickets=count)
            identity.own[person] += count
        elif kind == "merge" and person != other and identity.active(person) and identity.active(other):
            merge_id = f"mrg_{number}"
            envelope = world.merged(merge_id, person, other)
            identity.merges[merge_id] = (person, [other], [other])
            identity.merged_into[other], identity.merged_by[other] = person, merge_id
        elif kind == "unmerge" and identity.merges:
            merge_id = sorted(identity.merges)[first % len(identity.merges)]
            survivor, persons, _held = identity.merges.pop(merge_id)
            envelope = world.unmerged(merge_id, survivor, *persons)
            for restored in persons:
                if identity.merged_by.get(restored) == merge_id:
                    del identity.merged_by[restored], identity.merged_into[restored]
        elif kind == "erase" and person not in identity.erased:
            envelope = world.erasure(person)
            identity.erased.add(person)
            if person in identity.merged_by:
                identity.merges[identity.merged_by[person]][2].remove(person)
            for orphan, holder in identity.merged_into.items():
                if holder == person:
                    identity.merged_into[orphan] = None
        elif kind == "again" and sent:
            # At least once: a message delivered before comes again.
            envelope = sent[first % len(sent)]
        if envelope is not None:
            sent.append(envelope)
    if at_once:
        async with asyncio.TaskGroup() as tasks:
            for queue in _by_key(sent).values():
                tasks.create_task(_deliver_in_order(world, queue))
    else:
        for envelope in sent if order is None else _interleaved(sent, order):
            await world.deliver(envelope)

    for person_id in PERSONS:
        stored = await store.profile(world.organisation_id, person_id)
        if person_id in identity.erased:
            assert await world.naming(person_id) == [], f"{person_id} was erased"
        elif stored is None:
            assert identity.own[person_id] == 0, f"{person_id} has facts but no profile"
        elif identity.active(person_id):
            assert stored.merged_by is None, f"{person_id} is active"
            assert await world.tickets(person_id) == identity.tickets(person_id), person_id
        else:
            assert stored.merged_by == identity.merged_by[person_id], f"{person_id} is merged"
            assert stored.segments == frozenset(), f"{person_id} is merged"


def _by_key(sent: list[Envelope]) -> dict[str, deque[Envelope]]:
    queues: dict[str, deque[Envelope]] = {}
    for envelope in sent:
        queues.setdefault(record_for(envelope).key, deque()).append(envelope)
    return queues


def _interleaved(sent: list[Envelope], order: random.Random) -> list[Envelope]:
    """The messages in an order Kafka might hand them over in: each key's in order, keys mixed at random."""
    queues = _by_key(sent)
    mixed: list[Envelope] = []
    while queues:
        key = order.choice(sorted(queues))
        mixed.append(queues[key].popleft())
        if not queues[key]:
            del queues[key]
    return mixed


async def _deliver_in_order(world: World, queue: deque[Envelope]) -> None:
    for envelope in queue:
        for attempt in range(5):
            try:
                await world.deliver(envelope)
                break
            except ProfileBusyError:
                # The consumer tries the message again after a pause.
                if attempt == 4:
                    raise


class Jittery:
    """The store, each call of which lets other tasks run a random number of times before and after it."""

    def __init__(self, inner: MemoryProfileStore, order: random.Random) -> None:
        self._inner = inner
        self._order = order

    def __getattr__(self, name: str) -> Any:
        inner = getattr(self._inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            for _pause in range(self._order.randrange(4)):
                await asyncio.sleep(0)
            result = await inner(*args, **kwargs)
            for _pause in range(self._order.randrange(4)):
                await asyncio.sleep(0)
            return result

        return call
