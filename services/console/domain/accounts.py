"""Staff members and their sessions: who may log in, for how long, and what a session carries.

A session cookie holds one random value. The store keeps only a digest of it, and the API token the session acts
with is sealed under a key derived from that same value: a copy of the store opens no session and reveals no token.
"""

import base64
import hashlib
import hmac
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken

from services.console.domain.roles import Role, scopes_of
from shared.bilingual import BilingualValueError, quoted
from shared.tokens import Scope

MAX_THROTTLED_USERNAMES = 10_000
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


def valid_username(username: str) -> str:
    """The username as stored (lower case), or a ValueError saying in English and French what is wrong with it."""
    folded = username.strip().lower()
    if not _USERNAME.match(folded):
        raise BilingualValueError(
            en=f"username {username!r} must be 2-64 characters: letters, digits, dots, dashes, underscores or @",
            fr=f"le nom d'utilisateur {quoted(username, 'fr')} doit compter de 2 à 64 caractères : lettres, "
            "chiffres, points, tirets, traits de soulignement ou @",
        )
    return folded


@dataclass(frozen=True)
class StaffMember:
    username: str
    organisation_id: str
    display_name: str
    roles: frozenset[Role]
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def scopes(self) -> frozenset[Scope]:
        return scopes_of(self.roles)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Session:
    digest: str
    username: str
    organisation_id: str
    display_name: str
    scopes: frozenset[Scope]
    csrf_token: str
    sealed_token: str
    token_id: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    # The member's password when the session was opened (`password_stamp`); None for a session stored before
    # sessions kept it, which no password matches.
    password_stamp: str | None

    def is_live(self, now: datetime, *, idle: timedelta) -> bool:
        return now < self.expires_at and now - self.last_seen_at < idle

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


def password_stamp(password_hash: str) -> str:
    """Tells the password a session was opened with without keeping its hash in the session: a new password, even
    the same one set again (with a new salt), has another stamp."""
    return hashlib.sha256(b"parterre console password\0" + password_hash.encode()).hexdigest()


def session_stands(session: Session, member: StaffMember | None) -> bool:
    """The session is still the member's to use: she exists, is active, and has the password it was opened with."""
    return (
        member is not None
        and member.is_active
        and member.username == session.username
        and session.password_stamp == password_stamp(member.password_hash)
    )


def new_session_secret() -> str:
    return secrets.token_urlsafe(32)


def session_digest(secret: str) -> str:
    return hashlib.sha256(b"parterre console session\0" + secret.encode()).hexdigest()


def sealing_key(secret: str) -> bytes:
    """A Fernet key only the cookie's holder can rebuild."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"parterre console seal\0" + secret.encode()).digest())


def notice_signature(secret: str, done: str, page: str) -> str:
    """Binds the notice that `done` was done to the browser holding `secret` and to the page it is shown on: no link
    can make a page claim an action, and no other session or page shows it."""
    key = hashlib.sha256(b"parterre console notice\0" + secret.encode()).digest()
    return hmac.new(key, f"{done}\0{page}".encode(), hashlib.sha256).hexdigest()


@dataclass
class LoginThrottle:
    """Failed logins per username within a sliding window; past the limit, that username is locked for the window.

    Counted in one process: several console instances each allow the limit. A lockout slows guessing; it does not
    replace long passwords.
    """

    limit: int
    window: timedelta
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def is_locked(self, username: str, now: datetime) -> bool:
        return len(self._recent(username, now)) >= self.limit

    def failed(self, username: str, now: datetime) -> None:
        self._recent(username, now).append(now)
        if len(self._failures) > MAX_THROTTLED_USERNAMES:
            # Guesses spread over many made-up usernames must not grow memory without bound.
            for name in [name for name in self._failures if not self._recent(name, now)]:
                del self._failures[name]

    def succeeded(self, username: str) -> None:
        self._failures.pop(username, None)

    def _recent(self, username: str, now: datetime) -> deque[datetime]:
        failures = self._failures.setdefault(username, deque())
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        return failures


def seal_token(token: str, secret: str) -> str:
    return Fernet(sealing_key(secret)).encrypt(token.encode()).decode()


def unseal_token(sealed: str, secret: str) -> str | None:
    """The token sealed under `secret`, or None when this secret did not seal it."""
    try:
        return Fernet(sealing_key(secret)).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
