"""Waiting for what a running service does in the background."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], bool | Awaitable[bool]], deadline_seconds: float = 30) -> bool:
    """True as soon as `check` (a plain or an asynchronous predicate) holds; False if the deadline passes first."""

    async def holds() -> bool:
        result = check()
        return await result if inspect.isawaitable(result) else result

    loop = asyncio.get_running_loop()
    until = loop.time() + deadline_seconds
    while not await holds():
        if loop.time() >= until:
            return False
        await asyncio.sleep(0.05)
    return True
