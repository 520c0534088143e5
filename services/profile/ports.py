"""What the profile handlers need from the outside world: the profile store."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.profile.domain.profile import EMPTY_PROFILE, ProfileState


@dataclass(frozen=True)
class StoredProfile:
    """One person's profile as stored: the folded state, what was announced, and how far the log was applied."""

    organisation_id: str
    person_id: str
    state: ProfileState = EMPTY_PROFILE
    # Bumped by every change: the guard of the conditional update that stores the next one.
    version: int = 0
    # Facts applied so far; the next fact logged for this person gets number `applied + 1`.
    applied: int = 0
    segments: frozenset[str] = frozenset()
    # When a time-based field or rule next changes: the sweep visits only profiles due.
    due_at: datetime | None = None
    # The last fact applied and what it published: a redelivery of it publishes the same events again.
    last_event_id: str | None = None
    # Kept as the JSON published: field names in a `profile changed` event contain dots, which stores refuse as keys.
    last_outputs: Sequence[bytes] = field(default_factory=tuple)


class ProfileStore(Protocol):
    async def profile(self, organisation_id: str, person_id: str) -> StoredProfile | None: ...

    async def log_fact(self, organisation_id: str, event_id: str, person_id: str, number: int) -> int | None:
        """Makes `event_id` the person's fact number `number`, unless it was logged before: returns its number
        (a redelivery finds its first one), or None if another fact holds `number` (a writer raced this one).

        The unique number per person is what lets only one writer store each next version of a profile.
        """

    async def save(self, profile: StoredProfile) -> None:
        """Stores the profile; only the writer that logged its latest fact's number calls this."""

    async def claim_trigger(self, organisation_id: str, dedupe_key: str, event_id: str) -> bool:
        """True if this fact may fire the trigger: nobody stored the key, or this very fact did (a redelivery)."""
