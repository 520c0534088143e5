"""The profile states one process last read or wrote, by the bytes stored for them."""

from collections.abc import Hashable
from typing import Any

from services.profile.domain.profile import ProfileState

# About 500 KB of states for patrons of a typical history: room for the persons a consumer batch and the steps
# around it touch again, not for a whole organisation.
CAPACITY = 1_000


class KnownStates:
    """A profile read again finds its state decoded already, and one stored with its state unchanged finds it
    encoded, when the bytes stored are those this process read or wrote for it. Decoding and encoding a regular's
    state (400 purchases) take about 11 ms each, more than the read and the write; the bytes themselves decide, so
    a document another process wrote since is decoded anew."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._known: dict[Hashable, tuple[bytes, ProfileState]] = {}

    def decoded(self, key: Hashable, stored: Any) -> ProfileState | None:
        """The state `stored` decodes to, if this process knows it."""
        known = self._known.get(key)
        if known is None or not isinstance(stored, bytes) or type(stored) is not type(known[0]):
            return None
        return known[1] if stored == known[0] else None

    def encoded(self, key: Hashable, state: ProfileState) -> Any:
        """What this very state object was stored as, if this process knows it."""
        known = self._known.get(key)
        return known[0] if known is not None and known[1] is state else None

    def remember(self, key: Hashable, stored: Any, state: ProfileState) -> None:
        """`stored`, as read or written, holds `state`; only bytes are kept (a state stored as text or fields, by an
        earlier release, is decoded each time)."""
        if not isinstance(stored, bytes) or self._capacity <= 0:
            return
        self._known.pop(key, None)
        if len(self._known) >= self._capacity:
            # The one known longest: a dictionary keeps the order its keys came in.
            del self._known[next(iter(self._known))]
        self._known[key] = (stored, state)

    def __len__(self) -> int:
        return len(self._known)
