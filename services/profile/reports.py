"""Reports on an organisation's audience for the staff console: the audience overview, computed from every profile
and kept a few minutes, and segment sizes recorded once a day for their trends."""

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import timedelta

from services.profile.domain.overview import OVERVIEW_STATE_FIELDS, AudienceOverview, OverviewTally
from services.profile.domain.trends import SegmentTrend, day_of, segment_trend, trend_days
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


async def record_segment_sizes(deps: ProfileDeps) -> int:
    """Records the sizes of every segment of every organisation for today (the organisation's calendar day), once
    a day: the first call of a day records them, later ones return at once. Returns the organisations recorded.

    Each day's record is written by a replace on its own `_id`, so two instances recording at once, or a run cut
    short and done again, leave one record per organisation and day: the sizes seen by the last to write.
    """
    now = deps.clock.now()
    today = day_of(now, deps.rules.seasons)
    done = await deps.store.segment_sizes_recorded_day()
    if done is not None and done >= today:
        return 0
    organisations = await deps.store.organisations()
    for organisation_id in organisations:
        sizes = await deps.store.segment_sizes(organisation_id)
        await deps.store.record_segment_sizes(organisation_id, today, _every_segment(deps, sizes), recorded_at=now)
    # Only once every organisation is recorded: a run cut short is done again whole by the next.
    await deps.store.mark_segment_sizes_recorded(today)
    log.info("segment sizes recorded for %s: %d organisations", today.isoformat(), len(organisations))
    return len(organisations)


async def segment_trends(
    deps: ProfileDeps, organisation_id: str, sizes_now: Mapping[str, int]
) -> dict[str, SegmentTrend]:
    """Each defined segment's trend over the days recorded, and its change against its size now."""
    today = day_of(deps.clock.now(), deps.rules.seasons)
    recorded = await deps.store.recorded_segment_sizes(organisation_id, trend_days(today))
    return {
        segment.name: segment_trend(
            {day: sizes[segment.name] for day, sizes in recorded.items() if segment.name in sizes},
            today=today,
            members_now=sizes_now.get(segment.name, 0),
        )
        for segment in deps.rules.segments.segments
    }


def _every_segment(deps: ProfileDeps, sizes: Mapping[str, int]) -> dict[str, int]:
    # Every segment defined, those nobody is in as 0: a segment missing from a day's record was not defined then.
    return {segment.name: sizes.get(segment.name, 0) for segment in deps.rules.segments.segments}
