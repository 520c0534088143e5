"""The profile handlers on the in-memory store: merges, unmerges, late facts and erasures, races included."""

from collections.abc import Awaitable, Callable

import pytest

from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import SCENARIOS, World


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.__name__ for scenario in SCENARIOS])
async def test_the_handlers_on_the_memory_store(scenario: Callable[[World], Awaitable[None]]) -> None:
    store = MemoryProfileStore()

    async def documents() -> list[str]:
        return store.documents()

    await scenario(World(store, documents))
