"""In-memory staff directory, session store and token issuer for the console's handler tests; the contract tests in
tests/integration/console run the same scenarios against the MongoDB adapters."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.console.domain.accounts import Session, StaffMember
from shared.tokens import IssuedToken, Scope, mint_token


class MemoryStaffDirectory:
    def __init__(self) -> None:
        self.stored: dict[str, StaffMember] = {}

    async def add(self, member: StaffMember) -> bool:
        if member.username in self.stored:
            return False
        self.stored[member.username] = member
        return True

    async def member(self, username: str) -> StaffMember | None:
        return self.stored.get(username)

    async def set_password_hash(self, username: str, password_hash: str) -> None:
        if username in self.stored:
            self.stored[username] = replace(self.stored[username], password_hash=password_hash)

    async def disable(self, username: str, at: datetime) -> None:
        member = self.stored.get(username)
        if member is not None and member.disabled_at is None:
            self.stored[username] = replace(member, disabled_at=at)

    async def members(self, organisation_id: str | None = None) -> Sequence[StaffMember]:
        listed = [member for member in self.stored.values() if organisation_id in (None, member.organisation_id)]
        return sorted(listed, key=lambda member: member.username)


class MemorySessionStore:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    async def add(self, session: Session) -> None:
        self.sessions[session.digest] = session

    async def session(self, session_digest: str) -> Session | None:
        return self.sessions.get(session_digest)

    async def touch(self, session_digest: str, at: datetime) -> None:
        if session_digest in self.sessions:
            self.sessions[session_digest] = replace(self.sessions[session_digest], last_seen_at=at)

    async def remove(self, session_digest: str) -> None:
        self.sessions.pop(session_digest, None)

    async def sessions_of(self, username: str) -> Sequence[Session]:
        return [session for session in self.sessions.values() if session.username == username]


class MemoryTokens:
    def __init__(self) -> None:
        self.issued: dict[str, IssuedToken] = {}
        self.expiry: dict[str, datetime | None] = {}
        self.revoked: set[str] = set()

    async def issue(
        self, organisation_id: str, scopes: set[Scope], name: str, *, expires_at: datetime | None = None
    ) -> IssuedToken:
        token_id, token = mint_token()
        issued = IssuedToken(token, token_id, organisation_id, frozenset(scopes), name)
        self.issued[token_id] = issued
        self.expiry[token_id] = expires_at
        return issued

    async def revoke(self, token_id: str) -> bool:
        if token_id in self.revoked or token_id not in self.issued:
            return False
        self.revoked.add(token_id)
        return True

    async def forget_ended(self, organisation_id: str, *, name_prefix: str, now: datetime) -> int:
        ended = [
            token_id
            for token_id, issued in self.issued.items()
            if issued.organisation_id == organisation_id
            and issued.name.startswith(name_prefix)
            and (token_id in self.revoked or ((expiry := self.expiry[token_id]) is not None and expiry <= now))
        ]
        for token_id in ended:
            del self.issued[token_id]
        return len(ended)

    async def list(self, organisation_id: str | None = None) -> list[dict[str, object]]:
        return [
            {"_id": token_id, "name": issued.name, "revoked": token_id in self.revoked}
            for token_id, issued in self.issued.items()
            if organisation_id in (None, issued.organisation_id)
        ]


class SteppingClock:
    def __init__(self, start: datetime = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)
