"""The time sweep as the service runs it: every interval, the profiles filed in the slots that have ended are
visited, and what time changed in them is published; the first sweep of each day then records every segment's
size for the segments' trends."""

import asyncio
import logging
import time
from collections.abc import Callable

from services.profile.context import ProfileContext
from services.profile.handlers import Handled, SweepReport, sweep_due
from services.profile.reports import record_segment_sizes

log = logging.getLogger(__name__)
PROGRESS_LOG_SECONDS = 10


async def sweep_once(context: ProfileContext, progress: Callable[[SweepReport], None] | None = None) -> SweepReport:
    async def publish(handled: Handled) -> None:
        await context.publish(handled.outputs)
        if handled.after_publish is not None:
            await handled.after_publish()
        context.metrics.swept.labels(handled.outcome).inc()

    report = await sweep_due(
        context.deps, publish, concurrency=context.settings.profile_consumer_concurrency, progress=progress
    )
    position = await context.deps.store.sweep_position()
    if position is not None:
        context.metrics.sweep_behind.set(max((context.deps.clock.now() - position).total_seconds(), 0))
    # After the visits: the sizes recorded for the day count the segments time alone changed since yesterday.
    await record_segment_sizes(context.deps)
    return report


async def sweep_forever(context: ProfileContext) -> None:
    """Runs until cancelled; a failed sweep (Kafka or the store away) is tried again at the next interval."""
    interval = context.settings.profile_sweep_interval_seconds
    logged = [0.0]

    def progress(report: SweepReport) -> None:
        # A catch-up after a long stop takes a while: say how far it has gone, now and then.
        if time.monotonic() - logged[0] >= PROGRESS_LOG_SECONDS:
            logged[0] = time.monotonic()
            log.info("time sweep under way: %d slots, %d profiles visited", report.slots, report.visited)

    while True:
        await asyncio.sleep(interval)
        logged[0] = time.monotonic()
        try:
            report = await sweep_once(context, progress)
        except Exception:
            log.exception("the time sweep failed; trying again in %.0f s", interval)
            continue
        if report.visited:
            log.info("time sweep: %d slots, %d profiles visited %s", report.slots, report.visited, report.outcomes)
