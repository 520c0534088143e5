"""The time sweep, on the memory store, reaching a late entry before the writer that filed it has stored its
profile: the sweep visits the writer's copy filed ahead, or the entry the writer files again once it has stored."""

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, cast

from services.profile.domain.schedule import GRACE, SLOT, DueEntry, slot_of
from services.profile.handlers import ProfileDeps
from services.profile.ports import ProfileStore
from shared.events import Envelope
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import (
    World,
    lea_due_with_nothing_filed_around,
    the_next_sweep_lapses_lea_from_her_entry_and_its_copy,
)


def world_on(store: Any, like: World) -> World:
    """A world on `store` sharing `like`'s clock."""
    other = World(cast(ProfileStore, store), like.documents, like.organisation_id)
    other.clock = like.clock
    other.deps = ProfileDeps(store=cast(ProfileStore, store), rules=like.deps.rules, clock=like.clock)
    return other


class SlowWriter:
    """The store, with Lea's writer lagging: it files her entry in its slot just before the sweep moves past it,
    reads the position after the move (so files a copy ahead), and would store her profile only as the sweep is
    about to read a slot after hers: the sweep finds her original before her change is stored."""

    def __init__(self, inner: MemoryProfileStore) -> None:
        self._inner = inner
        self.entry: DueEntry | None = None
        self.writer_waiting = asyncio.Event()
        self._file_now = asyncio.Event()
        self._filed = asyncio.Event()
        self._moved = asyncio.Event()
        self._copied = asyncio.Event()
        self._store_now = asyncio.Event()
        self._stored = asyncio.Event()
        self._writer_held = False
        self.trace: list[str] = []

    async def schedule(self, entry: DueEntry) -> str:
        if entry.person_id != "per_lea" or self.entry is not None:
            return await self._inner.schedule(entry)
        self.entry = entry
        self.writer_waiting.set()
        await self._file_now.wait()
        slot = slot_of(entry.due_at)
        handle = await self._inner.file_at(entry, slot)
        self.trace.append("writer filed in her slot")
        self._filed.set()
        await self._moved.wait()
        while (position := await self._inner.sweep_position()) is not None and slot < position:
            slot = position
            handle = await self._inner.file_at(entry, slot)
            self.trace.append("writer filed a copy ahead")
        self._copied.set()
        return handle

    async def schedule_all(self, entries: Any) -> list[str]:
        return [await self.schedule(entry) for entry in entries]

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        if self.entry is None or not slot <= slot_of(self.entry.due_at) < to or self._file_now.is_set():
            return await self._inner.advance_sweep(slot, to)
        self._file_now.set()
        await self._filed.wait()
        moved = await self._inner.advance_sweep(slot, to)
        self.trace.append("sweep moved past her slot")
        self._moved.set()
        await self._copied.wait()
        return moved

    async def filed_in(self, slot: datetime) -> Any:
        if self.entry is not None and slot > slot_of(self.entry.due_at) and not self._store_now.is_set():
            self._store_now.set()
            await self._stored.wait()
        found = await self._inner.filed_in(slot)
        if any(entry.person_id == "per_lea" for filed in found for entry in filed.entries):
            self.trace.append("sweep found her" + (" ahead" if self._stored.is_set() else ""))
        return found

    async def save(self, profile: Any) -> None:
        await self._hold([profile])
        await self._inner.save(profile)
        self._mark([profile])

    async def save_all(self, profiles: Any, **options: Any) -> Any:
        await self._hold(profiles)
        saved = await self._inner.save_all(profiles, **options)
        self._mark(profiles)
        return saved

    async def _hold(self, profiles: Any) -> None:
        # Her writer only: a sweep finding her number held does her change too, and stores it.
        if any(profile.person_id == "per_lea" for profile in profiles) and not self._writer_held:
            self._writer_held = True
            await self._store_now.wait()

    def _mark(self, profiles: Any) -> None:
        if any(profile.person_id == "per_lea" for profile in profiles) and not self._stored.is_set():
            self.trace.append("her change stored")
            self._stored.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def swept_once() -> tuple[MemoryProfileStore, World]:
    """A store and its world, the sweep's position set."""
    inner = MemoryProfileStore()

    async def documents() -> list[str]:
        return inner.documents()

    world = World(inner, documents)
    await world.sweep()
    return inner, world


async def test_a_late_entry_and_its_copy_ahead_found_before_their_writer_stored_leave_the_profile_swept() -> None:
    inner, world = await swept_once()
    slow = SlowWriter(inner)
    racing = world_on(slow, world)

    writer = asyncio.create_task(racing.deliver(racing.purchase("sale-l", "per_lea", days_ago=360)))
    await slow.writer_waiting.wait()
    assert slow.entry is not None
    # Someone else filed in the slot after hers: the sweep's move past her slot ends there, and it reads that slot.
    after = slot_of(slow.entry.due_at) + SLOT
    await inner.file_at(DueEntry(after, world.organisation_id, "per_someone"), after)
    world.clock.at = slow.entry.due_at + timedelta(minutes=40)
    await racing.sweep()
    await writer

    assert slow.trace == [
        "writer filed in her slot",
        "sweep moved past her slot",
        "writer filed a copy ahead",
        "sweep found her",
        "her change stored",
        # Her writer, having taken that long, files her again once stored: two copies ahead.
        "sweep found her ahead",
        "sweep found her ahead",
    ]
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


class WriterStalledBeforeStoring:
    """The store, with the first writer about to store Lea's profile held until released: her due entry is filed
    (where the sweep has not been yet) and her change number taken, but the writer has not yet read whether another
    overtook it, nor stored her profile."""

    def __init__(self, inner: MemoryProfileStore) -> None:
        self._inner = inner
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def applied(self, organisation_id: str, person_ids: Any) -> dict[str, int]:
        person_ids = list(person_ids)
        if "per_lea" in person_ids and not self.holding.is_set():
            self.holding.set()
            await self.release.wait()
        return await self._inner.applied(organisation_id, person_ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class StalledWriter:
    """Lea's writer, stalled before storing her profile while the sweep went by her entry's slot and let it go."""

    world: World
    stalled: WriterStalledBeforeStoring
    writer: asyncio.Task[tuple[Envelope, ...]]
    filed: DueEntry

    async def resume(self) -> None:
        self.stalled.release.set()
        await self.writer


async def lea_stalled_while_the_sweep_goes_by() -> StalledWriter:
    inner, world = await swept_once()
    stalled = WriterStalledBeforeStoring(inner)
    writing = world_on(stalled, world)
    # A purchase a year old, imported late: Lea's due moment (lapsing) is near when her writer files her entry, and
    # the writer then stalls past it, until the sweep has been by.
    writer = asyncio.create_task(writing.deliver(writing.purchase("sale-l", "per_lea", days_ago=360)))
    await stalled.holding.wait()
    [filed] = [entry for entries in inner.due.values() for entry in entries if entry and entry.person_id == "per_lea"]
    world.clock.at = filed.due_at + timedelta(minutes=20)
    # Her profile is not stored: the sweep finds the entry stale and lets it go.
    assert (await world.sweep()).outcomes == {"unchanged": 1}
    return StalledWriter(world, stalled, writer, filed)


async def test_an_entry_let_go_while_its_writer_stalled_before_storing_is_filed_again_and_swept() -> None:
    lea_stalled = await lea_stalled_while_the_sweep_goes_by()
    world = lea_stalled.world
    await lea_stalled.resume()
    lea = await world.profile("per_lea")
    assert lea.due_at == lea_stalled.filed.due_at, "the writer stored her profile due at the moment the sweep went by"

    # The writer filed her again once stored, in her slot and at the sweep's position.
    await the_next_sweep_lapses_lea_from_her_entry_and_its_copy(world)


async def test_a_writer_stalled_before_storing_a_person_erased_meanwhile_leaves_no_entry_naming_them() -> None:
    lea_stalled = await lea_stalled_while_the_sweep_goes_by()
    # Erased while her writer stalls: the writer, late, files her entry again after storing, then finds her erased.
    await lea_stalled.world.deliver(lea_stalled.world.erasure("per_lea"))
    await lea_stalled.resume()

    assert await lea_stalled.world.naming("per_lea") == []


class CountingSweepReads:
    """The store, counting what the sweep reads and writes of the slots and its position."""

    COUNTED = frozenset({"slots_filed", "filed_in", "drop_filed", "advance_sweep"})

    def __init__(self, inner: MemoryProfileStore) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name not in self.COUNTED:
            return found

        async def counted(*arguments: Any) -> Any:
            self.calls[name] += 1
            return await found(*arguments)

        return counted


async def test_a_sweep_after_ten_quiet_days_passes_the_empty_slots_of_each_day_in_one_move() -> None:
    inner, world = await swept_once()
    counting = CountingSweepReads(inner)
    sweeping = world_on(counting, world)
    await sweeping.deliver(sweeping.purchase("sale-l", "per_lea", days_ago=360))
    position = await inner.sweep_position()
    assert position is not None
    world.clock.at += timedelta(days=10)

    report = await sweeping.sweep()

    assert report.outcomes == {"swept": 1}
    assert report.slots == (slot_of(world.clock.at - GRACE) - position) // SLOT
    assert await inner.sweep_position() == slot_of(world.clock.at - GRACE)
    # Eleven days touched: a look at each day's list, a move, a look again; her slot read twice around its move.
    assert counting.calls["advance_sweep"] <= 2 * 11 + 1
    assert counting.calls["filed_in"] <= 3
    assert sum(counting.calls.values()) <= 80


class HeldBeforeMovingOn:
    """A sweep's store, holding the sweep as it is about to move on from `slot` until let go."""

    def __init__(self, inner: MemoryProfileStore, slot: datetime) -> None:
        self._inner = inner
        self._slot = slot
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        if slot == self._slot:
            self.reached.set()
            await self.go.wait()
        return await self._inner.advance_sweep(slot, to)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ReadingTheDayFirst:
    """A second sweep's store: once it has found nothing filed from the position to midnight, Ben is filed in the
    slot after the position, and the first sweep runs until it is about to move on from Ben's slot. The second then
    moves to midnight (Ben's entry is visited already), which does not take. Before it would move on from midnight,
    Lea's writer files her entry and reads the position."""

    def __init__(self, inner: MemoryProfileStore, ben: DueEntry, lea: DueEntry, first: World) -> None:
        self._inner = inner
        self._ben, self._lea = ben, lea
        self._first = first
        self.held = HeldBeforeMovingOn(inner, slot_of(ben.due_at))
        self.first_sweep: asyncio.Task[Any] | None = None
        self.lea_filed = False
        self.moves_from: list[datetime] = []

    async def slots_filed(self, start: datetime, end: datetime) -> list[datetime]:
        found = await self._inner.slots_filed(start, end)
        if self.first_sweep is None and end.time() == time(0):
            await self._inner.schedule(self._ben)
            self.first_sweep = asyncio.create_task(world_on(self.held, self._first).sweep())
            await self.held.reached.wait()
        return found

    async def file_lea(self) -> None:
        if not self.lea_filed:
            self.lea_filed = True
            await self._inner.schedule(self._lea)

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        self.moves_from.append(slot)
        if slot.time() == time(0) and slot.date() > self._lea.due_at.date():
            await self.file_lea()
        return await self._inner.advance_sweep(slot, to)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_sweep_finding_another_moved_the_position_less_far_does_not_run_ahead_and_let_its_day_go() -> None:
    inner, world = await swept_once()
    due_at = await lea_due_with_nothing_filed_around(world)
    start = slot_of(due_at) - timedelta(hours=1)
    assert start.date() == slot_of(due_at).date()
    world.clock.at = start + GRACE + timedelta(seconds=1)
    await world.sweep()
    assert inner.position == start
    world.clock.at = slot_of(due_at).replace(hour=0, minute=40) + timedelta(days=1)
    ben = DueEntry(start + SLOT + timedelta(minutes=1), world.organisation_id, "per_ben")
    second = ReadingTheDayFirst(inner, ben, DueEntry(due_at, world.organisation_id, "per_lea"), world)

    await world_on(second, world).sweep()
    # It stopped short of midnight, where the position is not yet.
    assert second.moves_from
    assert max(second.moves_from) < slot_of(due_at).replace(hour=0) + timedelta(days=1)
    # Lea's writer files her now: the position is behind her slot.
    await second.file_lea()
    second.held.go.set()
    assert second.first_sweep is not None
    await second.first_sweep
    world.clock.at += timedelta(minutes=10)
    await world.sweep()

    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


class OvertakenByASweepThatDies:
    """The store of a sweep passing the rest of a day in one move while another is at work: the other moves the
    position one slot on just before this sweep's move (which then does not take); once this sweep has read those
    slots again, Lea's writer files her entry (reading the other's position, behind her slot) and the other moves on
    to midnight, then dies before reading them again."""

    def __init__(self, inner: MemoryProfileStore, lea: DueEntry) -> None:
        self._inner = inner
        self._lea = lea
        self._stage = "before the move"

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        if self._stage == "before the move" and to - slot > SLOT:
            self._stage = "moved less far"
            await self._inner.advance_sweep(slot, slot + SLOT)
        return await self._inner.advance_sweep(slot, to)

    async def slots_filed(self, start: datetime, end: datetime) -> list[datetime]:
        found = await self._inner.slots_filed(start, end)
        if self._stage == "moved less far":
            self._stage = "overtaken"
            await self._inner.schedule(self._lea)
            assert self._inner.position is not None
            await self._inner.advance_sweep(self._inner.position, end)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_sweep_whose_move_did_not_take_goes_on_only_past_slots_it_read_once_the_position_had_left_them() -> (
    None
):
    inner, world = await swept_once()
    due_at = await lea_due_with_nothing_filed_around(world)
    start = slot_of(due_at) - timedelta(hours=1)
    world.clock.at = start + GRACE + timedelta(seconds=1)
    await world.sweep()
    assert inner.position == start
    world.clock.at = slot_of(due_at).replace(hour=0, minute=40) + timedelta(days=1)

    await world_on(OvertakenByASweepThatDies(inner, DueEntry(due_at, world.organisation_id, "per_lea")), world).sweep()
    world.clock.at += timedelta(minutes=10)
    await world.sweep()

    assert "lapsed-buyers" in (await world.profile("per_lea")).segments
