"""Waiting until the pipeline has done everything the season set off: every consumer group caught up with its topic,
and notify's queue to the demo receiver empty."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from infra.platform.kafka_state import GroupState, pipeline_state
from shared.progress import ProgressLine
from shared.topics import CONSUMER_GROUPS

POLL_SECONDS = 1.0
# Lag 0 seen this many polls in a row: one poll can fall between a consumer's commit and its next publication.
STEADY_POLLS = 2


# The consumers between ingest and the profiles: a fact they dead-letter reaches no profile.
FACT_CARRYING_GROUPS = tuple(group.group_id for group in CONSUMER_GROUPS if group.service in ("identity", "profile"))


@dataclass(frozen=True)
class Drained:
    seconds: float
    groups: tuple[GroupState, ...]
    # Dead letters that appeared while the demo ran, by consumer group.
    new_dead_letters: dict[str, int]

    def facts_dead_lettered(self, namespace: str = "") -> int:
        """New dead letters of the groups that carry facts to the profiles, in the platform's namespace."""
        return sum(self.new_dead_letters.get(namespace + group_id, 0) for group_id in FACT_CARRYING_GROUPS)


class DrainTimeoutError(Exception):
    """The pipeline did not drain in time; the message says what was still behind."""


async def wait_for_drain(
    kafka_bootstrap: str,
    pending_deliveries: Callable[[], Awaitable[int]],
    *,
    namespace: str = "",
    dead_letters_before: dict[str, int],
    timeout_seconds: float,
    show_progress: bool = True,
) -> Drained:
    started = time.monotonic()
    groups, pending = await _reading(kafka_bootstrap, pending_deliveries, namespace)
    first_backlog = max(_backlog(groups, pending), 1)
    backlog = [first_backlog]
    # Measured against the backlog first seen, which grows meanwhile as each service hands work to the next one.
    progress = ProgressLine(first_backlog, lambda: max(first_backlog - backlog[0], 0), unit="drained")
    steady = 0
    while True:
        backlog[0] = _backlog(groups, pending)
        if show_progress:
            lags = " · ".join(f"{group.group_id.removeprefix('parterre-')} {group.lag:,}" for group in groups)
            drained = max(first_backlog - backlog[0], 0)
            progress.update(drained, f"{backlog[0]:,} left · lag: {lags} · deliveries pending {pending:,}")
        steady = steady + 1 if backlog[0] == 0 else 0
        if steady >= STEADY_POLLS:
            if show_progress:
                progress.finish(first_backlog, "nothing left")
            return Drained(time.monotonic() - started, groups, _new_dead_letters(groups, dead_letters_before))
        if time.monotonic() - started > timeout_seconds:
            raise DrainTimeoutError(_stuck(groups, pending, dead_letters_before, timeout_seconds))
        await asyncio.sleep(POLL_SECONDS)
        groups, pending = await _reading(kafka_bootstrap, pending_deliveries, namespace)


async def _reading(
    kafka_bootstrap: str, pending_deliveries: Callable[[], Awaitable[int]], namespace: str
) -> tuple[tuple[GroupState, ...], int]:
    return tuple(await pipeline_state(kafka_bootstrap, namespace)), await pending_deliveries()


def _backlog(groups: tuple[GroupState, ...], pending: int) -> int:
    return sum(group.lag for group in groups) + pending


def _stuck(groups: tuple[GroupState, ...], pending: int, dead_letters_before: dict[str, int], timeout: float) -> str:
    behind = [f"{group.group_id} is {group.lag:,} records behind on {group.topic}" for group in groups if group.lag]
    if pending:
        behind.append(f"notify still has {pending:,} deliveries to the demo receiver pending")
    dead = _new_dead_letters(groups, dead_letters_before)
    if any(dead.values()):
        behind.append("new dead letters: " + ", ".join(f"{name} {count:,}" for name, count in dead.items() if count))
    return (
        f"the pipeline did not drain in {timeout:.0f} s: "
        + ("; ".join(behind) or "it kept moving")
        + ". See `make status` and the services' logs under .local/logs/."
    )


async def dead_letter_counts(kafka_bootstrap: str, namespace: str = "") -> dict[str, int]:
    return {group.group_id: group.dead_letters for group in await pipeline_state(kafka_bootstrap, namespace)}


def _new_dead_letters(groups: tuple[GroupState, ...], before: dict[str, int]) -> dict[str, int]:
    return {group.group_id: group.dead_letters - before.get(group.group_id, 0) for group in groups}
