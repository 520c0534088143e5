"""Histories of facts, redeliveries and erasures played twice, one fact at a time and in batches, for the batch
tests on the in-memory store and on the real one."""

import copy
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from services.profile.ports import StoredProfile
from shared.events import Envelope
from tests.unit.profile_handlers.scenarios import World

PERSONS = tuple(f"per_{name}" for name in ("anne", "bea", "cleo", "dora"))
# (kind, person, days ago, tickets): a purchase, a donation, a message delivered again, an erasure request
Step = tuple[str, int, int, int]


def messages(world: World, steps: list[Step]) -> list[Envelope]:
    """The messages identity sends for `steps`, redeliveries included."""
    sent: list[Envelope] = []
    erased: set[str] = set()
    for number, (kind, person_index, days_ago, tickets) in enumerate(steps):
        person = PERSONS[person_index % len(PERSONS)]
        if kind == "again" and sent:
            sent.append(sent[(person_index * 7 + days_ago) % len(sent)])
        elif person in erased:
            continue
        elif kind == "purchase":
            sent.append(world.purchase(f"sale-{number}", person, days_ago=days_ago, tickets=tickets))
        elif kind == "donation":
            sent.append(world.donation(f"gift-{number}", person, days_ago=days_ago))
        elif kind == "erase":
            sent.append(world.erasure(person))
            erased.add(person)
    return sent


def split(sent: list[Envelope], cuts: list[int]) -> list[list[Envelope]]:
    """`sent` cut into consecutive batches at the given positions."""
    bounds = sorted({0, len(sent), *(cut % (len(sent) + 1) for cut in cuts)})
    return [sent[start:end] for start, end in itertools.pairwise(bounds) if end > start]


async def profiles(world: World) -> dict[str, StoredProfile | None]:
    """Each person's stored profile, without what only tells how it was stored: the kept announcements of its
    last change, and its due entry (each path may keep an earlier one, so long as the profile is filed at or
    before its due moment)."""
    found: dict[str, StoredProfile | None] = {}
    for person_id in PERSONS:
        stored = await world.store.profile(world.organisation_id, person_id)
        if stored is not None and stored.due_at is not None and not stored.is_merged:
            assert stored.due_handle is not None, f"{person_id} is due but not filed"
            assert stored.filed_at is not None
            assert stored.filed_at <= stored.due_at, f"{person_id} is filed after its due moment"
        found[person_id] = (
            None
            if stored is None
            else replace(stored, last_outputs=(), last_change=None, due_handle=None, filed_at=None)
        )
    return found


def announced(outputs: list[Envelope]) -> dict[str, Any]:
    """Every event published, by id, as JSON: the same id must always carry the same event."""
    by_id: dict[str, Any] = {}
    for output in outputs:
        content = output.model_dump(mode="json")
        assert by_id.setdefault(output.id, content) == content, f"{output.id} published with two contents"
    return by_id


def first_order(outputs: list[Envelope]) -> dict[str, list[str]]:
    """Each person's events in the order they were first published."""
    order: dict[str, list[str]] = {}
    for output in outputs:
        ids = order.setdefault(str(output.data.get("person_id")), [])
        if output.id not in ids:
            ids.append(output.id)
    return order


async def one_at_a_time(world: World, sent: list[Envelope]) -> list[Envelope]:
    outputs: list[Envelope] = []
    for envelope in sent:
        outputs.extend(await world.deliver(copy.deepcopy(envelope)))
    return outputs


async def in_batches(world: World, batches: list[list[Envelope]]) -> list[Envelope]:
    outputs: list[Envelope] = []
    for batch in batches:
        outputs.extend(await world.deliver_batch([copy.deepcopy(envelope) for envelope in batch]))
    return outputs


async def assert_batches_end_like_one_at_a_time(
    make_world: Callable[[], Awaitable[World]],
    steps: list[Step],
    cuts: list[int],
    *,
    batched_world: World | None = None,
) -> None:
    """`batched_world`, if given, plays the batches (a real store, say); a world of `make_world` the facts alone."""
    alone = await make_world()
    batched = batched_world or await make_world()
    sent = messages(alone, steps)
    expected = await one_at_a_time(alone, sent)
    got = await in_batches(batched, split(sent, cuts))

    assert await profiles(batched) == await profiles(alone)
    assert announced(got) == announced(expected)
    assert first_order(got) == first_order(expected)
