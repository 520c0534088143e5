"""The audience reports on the in-memory store: the overview read from every profile and cached, and segment sizes
recorded once a day for their trends."""

import asyncio
from collections.abc import AsyncIterator, Collection
from datetime import date, timedelta
from typing import Any, cast

import pytest

from services.profile.domain.profile import ProfileState
from services.profile.domain.trends import SizeOnDay
from services.profile.ports import ProfileStore
from services.profile.reports import OverviewCache, compute_overview, record_segment_sizes, segment_trends
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import NOW, RULES, World

TODAY = date(2026, 11, 15)  # NOW in Montréal
FIVE_MINUTES = timedelta(minutes=5)


class CountingStore(MemoryProfileStore):
    """Counts the full reads of an organisation's profiles, and can hold them until a test lets them go."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()

    async def profile_states(
        self, organisation_id: str, *, fields: Collection[str], page_size: int
    ) -> AsyncIterator[list[ProfileState]]:
        self.reads += 1
        await self.release.wait()
        async for page in super().profile_states(organisation_id, fields=fields, page_size=page_size):
            yield page


def world_on(store: MemoryProfileStore, organisation_id: str = "theatre-du-nord") -> World:
    async def documents() -> list[str]:
        return store.documents()

    return World(cast(ProfileStore, store), documents, organisation_id)


async def test_the_overview_counts_each_patron_once_and_leaves_persons_merged_into_another_out() -> None:
    world = world_on(MemoryProfileStore())
    for n, person_id in enumerate(("per_anne", "per_bea", "per_bea_again", "per_carl")):
        await world.deliver(world.purchase(f"sale-{n}", person_id, days_ago=30))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_bea_again"))

    overview = await compute_overview(world.deps, world.organisation_id, page_size=2)

    assert overview.patrons == 3
    assert overview.computed_at == NOW
    assert [(season.season, season.new, season.returning) for season in overview.seasons] == [("2026-2027", 3, 0)]
    assert overview.lifecycle_stages["new"] == 3


async def test_the_overview_reads_only_the_organisations_own_profiles() -> None:
    store = MemoryProfileStore()
    theatre, festival = world_on(store), world_on(store, "festival-de-lete")
    await theatre.deliver(theatre.purchase("sale-1", "per_anne"))
    await festival.deliver(festival.purchase("sale-2", "per_anne"))
    await festival.deliver(festival.purchase("sale-3", "per_bea"))

    assert (await compute_overview(theatre.deps, theatre.organisation_id)).patrons == 1
    assert (await compute_overview(festival.deps, festival.organisation_id)).patrons == 2


async def test_an_overview_is_served_as_computed_until_it_is_older_than_asked_then_computed_again() -> None:
    store = CountingStore()
    world, cache = world_on(store), OverviewCache()
    await world.deliver(world.purchase("sale-1", "per_anne"))

    first = await cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES)
    await world.deliver(world.purchase("sale-2", "per_bea"))
    world.clock.at = NOW + timedelta(minutes=4)
    still = await cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES)
    world.clock.at = NOW + timedelta(minutes=5)
    later = await cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES)

    assert (first.patrons, first.computed_at) == (1, NOW)
    assert still == first
    assert (later.patrons, later.computed_at) == (2, NOW + timedelta(minutes=5))
    assert store.reads == 2


async def test_a_refresh_computes_the_overview_again_however_fresh_it_is() -> None:
    store = CountingStore()
    world, cache = world_on(store), OverviewCache()
    await cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES)
    await world.deliver(world.purchase("sale-1", "per_anne"))
    world.clock.at = NOW + timedelta(seconds=1)

    refreshed = await cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES, refresh=True)

    assert refreshed.patrons == 1
    assert store.reads == 2


async def test_callers_arriving_while_an_overview_is_computed_share_that_computation() -> None:
    store = CountingStore()
    world, cache = world_on(store), OverviewCache()
    await world.deliver(world.purchase("sale-1", "per_anne"))
    store.release.clear()

    first = asyncio.create_task(cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES))
    await asyncio.sleep(0.01)
    world.clock.at = NOW - timedelta(seconds=1)  # a refresh asked before the computation began waits and shares
    waiting = [
        asyncio.create_task(cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES)),
        asyncio.create_task(cache.overview(world.deps, world.organisation_id, fresh_for=FIVE_MINUTES, refresh=True)),
    ]
    await asyncio.sleep(0.01)
    store.release.set()
    results = await asyncio.gather(first, *waiting)

    assert store.reads == 1
    assert {overview.computed_at for overview in results} == {NOW}


async def test_a_cache_of_zero_seconds_computes_the_overview_at_every_request() -> None:
    store = CountingStore()
    world, cache = world_on(store), OverviewCache()

    for _ in range(3):
        await cache.overview(world.deps, world.organisation_id, fresh_for=timedelta(0))

    assert store.reads == 3


async def test_segment_sizes_are_recorded_for_every_organisation_once_a_day_with_every_segment() -> None:
    store = MemoryProfileStore()
    theatre, festival = world_on(store), world_on(store, "festival-de-lete")
    await theatre.deliver(theatre.purchase("sale-1", "per_anne"))
    await festival.deliver(festival.purchase("sale-2", "per_bea"))
    await festival.deliver(festival.donation("gift-1", "per_bea"))

    recorded = await record_segment_sizes(theatre.deps)
    await festival.deliver(festival.donation("gift-2", "per_carl"))
    again = await record_segment_sizes(theatre.deps)

    assert (recorded, again) == (2, 0)
    theatre_day = (await store.recorded_segment_sizes("theatre-du-nord", [TODAY]))[TODAY]
    festival_day = (await store.recorded_segment_sizes("festival-de-lete", [TODAY]))[TODAY]
    assert set(theatre_day) == set(festival_day) == set(RULES.segments.names)
    assert (theatre_day["donors"], festival_day["donors"], festival_day["francophones"]) == (0, 1, 1)
    assert await store.segment_sizes_recorded_day() == TODAY


async def test_the_next_day_records_the_sizes_again_and_keeps_the_day_before() -> None:
    store = MemoryProfileStore()
    world = world_on(store)
    await world.deliver(world.purchase("sale-1", "per_anne"))
    await record_segment_sizes(world.deps)
    await world.deliver(world.donation("gift-1", "per_anne"))

    world.clock.at = NOW + timedelta(days=1)
    recorded = await record_segment_sizes(world.deps)

    days = await store.recorded_segment_sizes(world.organisation_id, [TODAY, TODAY + timedelta(days=1)])
    assert recorded == 1
    assert {day: sizes["donors"] for day, sizes in days.items()} == {TODAY: 0, TODAY + timedelta(days=1): 1}


async def test_a_recording_cut_short_is_done_again_whole_by_the_next_sweep() -> None:
    store = MemoryProfileStore()
    world = world_on(store)
    await world.deliver(world.purchase("sale-1", "per_anne"))
    original = store.mark_segment_sizes_recorded

    async def crash(day: date) -> None:
        raise ConnectionError("the store went away")

    store.mark_segment_sizes_recorded = crash  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await record_segment_sizes(world.deps)
    store.mark_segment_sizes_recorded = original  # type: ignore[method-assign]

    assert await record_segment_sizes(world.deps) == 1
    assert await store.segment_sizes_recorded_day() == TODAY


async def test_a_segments_trend_holds_the_days_recorded_and_its_change_over_seven_days() -> None:
    store = MemoryProfileStore()
    world = world_on(store)
    week_ago = TODAY - timedelta(days=7)
    sizes: dict[str, Any] = dict.fromkeys(RULES.segments.names, 0)
    await store.record_segment_sizes(world.organisation_id, week_ago, sizes | {"donors": 3}, recorded_at=NOW)
    await store.record_segment_sizes(world.organisation_id, TODAY, sizes | {"donors": 4}, recorded_at=NOW)
    # Recorded before the segment existed: a day without its size.
    await store.record_segment_sizes(world.organisation_id, TODAY - timedelta(days=2), {"donors": 4}, recorded_at=NOW)

    trends = await segment_trends(world.deps, world.organisation_id, {"donors": 6})

    assert trends["donors"].points == (
        SizeOnDay(week_ago, 3),
        SizeOnDay(TODAY - timedelta(days=2), 4),
        SizeOnDay(TODAY, 4),
    )
    assert trends["donors"].change_7d == 3
    assert [point.day for point in trends["subscribers"].points] == [week_ago, TODAY]
    assert trends["subscribers"].change_7d == 0
    assert set(trends) == set(RULES.segments.names)
