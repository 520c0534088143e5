"""What the console's handlers need: staff accounts and sessions, and the platform's APIs."""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from services.console.domain.accounts import Session, StaffMember


class StaffDirectory(Protocol):
    async def add(self, member: StaffMember) -> bool: ...

    async def member(self, username: str) -> StaffMember | None: ...

    # Each changes one field of one member in a single update: a password set while another process disables the
    # member must not bring her back, as writing the whole member read before would.
    async def set_password_hash(self, username: str, password_hash: str) -> None: ...

    async def disable(self, username: str, at: datetime) -> None:
        """Disabled from `at`, unless she was disabled already (she keeps the earlier moment)."""

    async def members(self, organisation_id: str | None = None) -> Sequence[StaffMember]: ...


class SessionStore(Protocol):
    async def add(self, session: Session) -> None: ...

    async def session(self, session_digest: str) -> Session | None: ...

    async def touch(self, session_digest: str, at: datetime) -> None: ...

    async def remove(self, session_digest: str) -> None: ...

    async def sessions_of(self, username: str) -> Sequence[Session]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
