"""Reports on an organisation's audience for the staff console: the audience overview, computed from every profile
and kept a few minutes."""

import asyncio
import logging
import time
from datetime import timedelta

from services.profile.domain.overview import OVERVIEW_STATE_FIELDS, AudienceOverview, OverviewTally
from services.profile.handlers import ProfileDeps

log = logging.getLogger(__name__)

# Profiles decoded and folded between two reads from the store: the event loop serves other work in between.
OVERVIEW_PAGE = 200


async def compute_overview(
    deps: ProfileDeps, organisation_id: str, *, page_size: int = OVERVIEW_PAGE
) -> AudienceOverview:
    """The organisation's audience overview now, read from every one of its profiles (merged persons aside)."""
    started = time.monotonic()
    tally = OverviewTally(as_of=deps.clock.now(), seasons=deps.rules.seasons)
    async for page in deps.store.profile_states(organisation_id, fields=OVERVIEW_STATE_FIELDS, page_size=page_size):
        for state in page:
            tally.add(state)
    overview = tally.result()
    log.info(
        "audience overview of %s: %d patrons in %.1f s", organisation_id, overview.patrons, time.monotonic() - started
    )
    return overview


class OverviewCache:
    """The last overview computed for each organisation, served while it is fresh enough.

    One computation per organisation at a time: a caller arriving meanwhile waits for it and shares its result,
    so a console opened by several people at once reads the profiles once. Kept in this process's memory: each
    instance of the service computes its own.
    """

    def __init__(self) -> None:
        self._overviews: dict[str, AudienceOverview] = {}
        self._computing: dict[str, asyncio.Lock] = {}

    async def overview(
        self, deps: ProfileDeps, organisation_id: str, *, fresh_for: timedelta, refresh: bool = False
    ) -> AudienceOverview:
        """The cached overview if computed less than `fresh_for` ago; else, or with `refresh`, one computed now."""
        asked_at = deps.clock.now()
        lock = self._computing.setdefault(organisation_id, asyncio.Lock())
        async with lock:
            cached = self._overviews.get(organisation_id)
            if cached is not None:
                # A refresh is answered by a computation that began after it was asked for, such as the one it
                # just waited on.
                if cached.computed_at > asked_at:
                    return cached
                if not refresh and deps.clock.now() - cached.computed_at < fresh_for:
                    return cached
            overview = await compute_overview(deps, organisation_id)
            self._overviews[organisation_id] = overview
            return overview
