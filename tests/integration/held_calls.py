"""One store call held until a test releases it: the test lines up what runs meanwhile."""

import asyncio
from typing import Any, Literal

import pytest
from pymongo.asynchronous.collection import AsyncCollection

import shared.mongo
from shared.mongo import Document


class HeldCall:
    """The first call of one `AsyncCollection` method on one collection, held until `release`; or of
    `found_by_id`, through which `ReadsTogether` reads documents by `_id`.

    `when="before"`: before it reaches the store, as a writer that decided what to write and has not written yet.
    `when="after"`: once the store has answered, as a read on its way back while the same process writes what it
    read.
    """

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        method: str,
        collection_name: str,
        *,
        when: Literal["before", "after"],
    ) -> None:
        self.held = asyncio.Event()
        self._released = asyncio.Event()
        owner: Any = shared.mongo if method == "found_by_id" else AsyncCollection
        original = getattr(owner, method)

        async def hold_first(collection: AsyncCollection[Document]) -> None:
            if collection.name == collection_name and not self.held.is_set():
                self.held.set()
                await self._released.wait()

        async def call(collection: AsyncCollection[Document], *args: Any, **kwargs: Any) -> Any:
            if when == "before":
                await hold_first(collection)
                return await original(collection, *args, **kwargs)
            reply = await original(collection, *args, **kwargs)
            await hold_first(collection)
            return reply

        monkeypatch.setattr(owner, method, call)

    async def until_held(self) -> None:
        async with asyncio.timeout(10):
            await self.held.wait()

    def release(self) -> None:
        self._released.set()
