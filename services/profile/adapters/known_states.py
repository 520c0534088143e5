"""The profile states one process last read or wrote, by the bytes stored for them."""

from collections.abc import Hashable
from typing import Any

from services.profile.domain.profile import ProfileState

# Measured by the compressed bytes kept, a state decoded taking 20 to 80 times as much memory (a regular's 13 KB
# of 400 purchases, about 1 MB): room for the persons one handling and the next ones read again (a late fact reads
# the profile it lands on three times), not for an organisation.
BYTES = 512 * 1024
CAPACITY = 1_000


class KnownStates:
    """A profile read again finds its state decoded already, and one stored with its state unchanged finds it
    encoded, when the bytes stored are those this process read or wrote for it. Decoding and encoding a regular's
    state (400 purchases) take about 11 ms each, more than the read and the write; the bytes themselves decide, so
    a document another process wrote since is decoded anew."""

    def __init__(self, capacity: int = CAPACITY, budget: int = BYTES) -> None:
        self._capacity = capacity
        self._budget = budget
        self._known: dict[Hashable, tuple[bytes, ProfileState]] = {}
        self._bytes = 0

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
        earlier release, is decoded each time), and none larger than the whole budget."""
        self.forget(key)
        if not isinstance(stored, bytes) or len(stored) > self._budget or self._capacity <= 0:
            return
        while self._known and (len(self._known) >= self._capacity or self._bytes + len(stored) > self._budget):
            # The one known longest: a dictionary keeps the order its keys came in.
            self.forget(next(iter(self._known)))
        self._known[key] = (stored, state)
        self._bytes += len(stored)

    def forget(self, key: Hashable) -> None:
        """Nothing kept for `key` any more (the profile was deleted)."""
        known = self._known.pop(key, None)
        if known is not None:
            self._bytes -= len(known[0])

    def __len__(self) -> int:
        return len(self._known)

    @property
    def bytes_kept(self) -> int:
        return self._bytes
