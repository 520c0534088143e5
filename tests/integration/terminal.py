"""A `parterre` command run as from a terminal, from an async test."""

import asyncio

from shared.cli import main


async def run_from_terminal(argv: list[str]) -> int:
    """The exit code of `parterre <argv>`; the command runs its own event loop, as from a terminal, so in a thread."""
    return await asyncio.to_thread(main, argv)
