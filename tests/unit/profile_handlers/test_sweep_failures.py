"""The time sweep, on the memory store, telling of a visit that failed: which failure in a row, and when it tries
again."""

import logging
from datetime import timedelta

import pytest

from services.profile import handlers
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import NOW, FailingToVisit, World, world_on


async def test_a_failed_visit_is_logged_with_its_failures_in_a_row_and_the_moment_it_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryProfileStore()

    async def documents() -> list[str]:
        return store.documents()

    world = World(store, documents)
    await world.deliver(world.purchase("sale-l", "per_lea", days_ago=360))
    await world.sweep()
    sweeping = world_on(FailingToVisit(store, "per_lea"), world)
    world.clock.at = NOW + timedelta(days=10)
    caplog.set_level(logging.ERROR, logger=handlers.log.name)

    await sweeping.sweep()
    world.clock.at += timedelta(minutes=40)
    await sweeping.sweep()

    assert [record.getMessage() for record in caplog.records] == [
        "the sweep could not visit per_lea of theatre-du-nord, due 2026-11-20T19:00:00+00:00 (failure 1 in a row); "
        "it tries again after 2026-11-25T19:15:00+00:00",
        "the sweep could not visit per_lea of theatre-du-nord, due 2026-11-20T19:00:00+00:00 (failure 2 in a row); "
        "it tries again after 2026-11-25T20:10:00+00:00",
    ]
    assert all(record.exc_info for record in caplog.records)
