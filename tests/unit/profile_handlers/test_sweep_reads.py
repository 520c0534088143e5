"""The time sweep, on the memory store, with a writer slow to store: a writer's copy of a late entry is visited even
when the same sweep visited the original before that writer stored its change."""

import asyncio
from datetime import datetime, timedelta
from typing import Any, cast

from services.profile.domain.schedule import SLOT, DueEntry, slot_of
from services.profile.handlers import ProfileDeps
from services.profile.ports import ProfileStore
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import World


def world_on(store: Any, like: World) -> World:
    """A world on `store` sharing `like`'s clock."""
    other = World(cast(ProfileStore, store), like.documents, like.organisation_id)
    other.clock = like.clock
    other.deps = ProfileDeps(store=cast(ProfileStore, store), rules=like.deps.rules, clock=like.clock)
    return other


class SlowWriter:
    """The store, with Lea's writer lagging: it files her entry in its slot just before the sweep moves past it,
    reads the position after the move (so files a copy ahead), and stores her profile only as the sweep is about
    to read the slot after hers: the sweep visits her original before her change is stored."""

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

    async def advance_sweep(self, slot: datetime, to: datetime) -> None:
        if self.entry is None or slot != slot_of(self.entry.due_at) or self._file_now.is_set():
            await self._inner.advance_sweep(slot, to)
            return
        self._file_now.set()
        await self._filed.wait()
        await self._inner.advance_sweep(slot, to)
        self.trace.append("sweep moved past her slot")
        self._moved.set()
        await self._copied.wait()

    async def filed_in(self, slot: datetime) -> Any:
        if self.entry is not None and slot == slot_of(self.entry.due_at) + SLOT and not self._store_now.is_set():
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
        if any(profile.person_id == "per_lea" for profile in profiles) and not self._stored.is_set():
            await self._store_now.wait()

    def _mark(self, profiles: Any) -> None:
        if any(profile.person_id == "per_lea" for profile in profiles) and not self._stored.is_set():
            self.trace.append("writer stored her change")
            self._stored.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_copy_filed_ahead_by_a_writer_slow_to_store_is_visited_though_the_sweep_saw_the_original() -> None:
    inner = MemoryProfileStore()

    async def documents() -> list[str]:
        return inner.documents()

    world = World(inner, documents)
    await world.sweep()
    slow = SlowWriter(inner)
    racing = world_on(slow, world)

    writer = asyncio.create_task(racing.deliver(racing.purchase("sale-l", "per_lea", days_ago=360)))
    await slow.writer_waiting.wait()
    assert slow.entry is not None
    world.clock.at = slow.entry.due_at + timedelta(minutes=40)
    await racing.sweep()
    await writer

    assert slow.trace == [
        "writer filed in her slot",
        "sweep moved past her slot",
        "writer filed a copy ahead",
        "sweep found her",
        "writer stored her change",
        "sweep found her ahead",
    ]
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments
