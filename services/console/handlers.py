"""The console's use cases: staff log in and out, and each page's data gathered from the platform's APIs."""

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.console.adapters.platform_api import PlatformApi
from services.console.domain.accounts import (
    LoginThrottle,
    Session,
    StaffMember,
    new_session_secret,
    password_stamp,
    seal_token,
    session_digest,
    session_stands,
    unseal_token,
    valid_username,
)
from services.console.domain.passwords import check_new_password, hash_password, unknown_user_hash, verify_password
from services.console.domain.roles import Role
from services.console.ports import Clock, SessionStore, StaffDirectory
from shared.bilingual import BilingualValueError, quoted
from shared.tokens import IssuedToken, Scope, validate_organisation_id

# A session's last use is written at most this often: a page view is not worth a write each time.
TOUCH_EVERY = timedelta(minutes=1)


class TokenIssuer(Protocol):
    async def issue(
        self, organisation_id: str, scopes: set[Scope], name: str, *, expires_at: datetime | None = None
    ) -> IssuedToken: ...

    async def revoke(self, token_id: str) -> bool: ...

    async def forget_ended(self, organisation_id: str, *, name_prefix: str, now: datetime) -> int: ...


@dataclass
class Accounts:
    """Staff members, their sessions and the API tokens sessions act with: all `parterre console` needs."""

    staff: StaffDirectory
    sessions: SessionStore
    tokens: TokenIssuer
    clock: Clock


@dataclass
class ConsoleDeps:
    accounts: Accounts
    api: PlatformApi
    throttle: LoginThrottle
    session_length: timedelta
    idle_limit: timedelta


class LoginRefusedError(Exception):
    """`invalid` (unknown user, wrong password, disabled account: one answer for all) or `locked`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ActiveSession:
    session: Session
    token: str
    cookie: str

    def allows(self, scope: Scope) -> bool:
        return self.session.allows(scope)


async def log_in(username: str, password: str, deps: ConsoleDeps) -> ActiveSession:
    accounts = deps.accounts
    now = accounts.clock.now()
    try:
        name = valid_username(username)
    except ValueError:
        name = ""
    if name:
        if deps.throttle.is_locked(name, now):
            raise LoginRefusedError("locked")
        # Counted as failed before the password is checked, which takes tens of milliseconds: counted after, guesses
        # sent together would each pass the lock before any was counted, and all be checked. A right password takes
        # the count back.
        deps.throttle.failed(name, now)
    member = await accounts.staff.member(name) if name else None
    stored_hash = member.password_hash if member is not None else unknown_user_hash()
    # scrypt takes tens of milliseconds on purpose: off the event loop, so other pages keep answering.
    matches = await asyncio.to_thread(verify_password, password, stored_hash)
    if member is None or not matches or not member.is_active:
        raise LoginRefusedError("invalid")
    deps.throttle.succeeded(name)
    active = await _open_session(member, deps, now)
    # The member may have been disabled or given a new password, here or by `parterre console` in another process,
    # while her password was checked. Read again only once the session is stored: a change written before this
    # read is seen here and ends the session; one written after it is written after the session was stored, and
    # `set_password` and `disable_staff_member` write the member before they list her sessions, so they find this
    # one and end it. Reading before storing the session would leave a gap for a change between the two.
    if not session_stands(active.session, await accounts.staff.member(name)):
        await _end(active.session, accounts)
        raise LoginRefusedError("invalid")
    return active


# The name of every session's token starts so, then the member's username.
SESSION_PREFIX = "console:"


async def _open_session(member: StaffMember, deps: ConsoleDeps, now: datetime) -> ActiveSession:
    await _clear_ended_sessions(member, deps, now)
    expires_at = now + deps.session_length
    issued = await deps.accounts.tokens.issue(
        member.organisation_id, set(member.scopes), f"{SESSION_PREFIX}{member.username}", expires_at=expires_at
    )
    cookie = new_session_secret()
    session = Session(
        digest=session_digest(cookie),
        username=member.username,
        organisation_id=member.organisation_id,
        display_name=member.display_name,
        scopes=member.scopes,
        csrf_token=secrets.token_urlsafe(32),
        sealed_token=seal_token(issued.token, cookie),
        token_id=issued.token_id,
        created_at=now,
        expires_at=expires_at,
        last_seen_at=now,
        password_stamp=password_stamp(member.password_hash),
    )
    await deps.accounts.sessions.add(session)
    return ActiveSession(session, issued.token, cookie)


async def _clear_ended_sessions(member: StaffMember, deps: ConsoleDeps, now: datetime) -> None:
    """Ends the member's sessions past their term or idle limit, and deletes the organisation's session tokens that
    ended: a browser closed without signing out leaves its session and token behind, one of each per sign-in."""
    accounts = deps.accounts
    for session in await accounts.sessions.sessions_of(member.username):
        if not session.is_live(now, idle=deps.idle_limit):
            await _end(session, accounts)
    await accounts.tokens.forget_ended(member.organisation_id, name_prefix=SESSION_PREFIX, now=now)


async def current_session(cookie: str | None, deps: ConsoleDeps) -> ActiveSession | None:
    """The live session this cookie opens, or None; an expired or idle session, or one its member may no longer use,
    is ended on the way."""
    if not cookie:
        return None
    accounts = deps.accounts
    digest = session_digest(cookie)
    session = await accounts.sessions.session(digest)
    if session is None:
        return None
    now = accounts.clock.now()
    token = unseal_token(session.sealed_token, cookie)
    if token is None or not session.is_live(now, idle=deps.idle_limit):
        await _end(session, accounts)
        return None
    # Disabling a member or setting her password ends her sessions once the account is written; a command that dies
    # in between leaves them stored, so each use checks the account itself.
    if not session_stands(session, await accounts.staff.member(session.username)):
        await _end(session, accounts)
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        await accounts.sessions.touch(digest, now)
    return ActiveSession(session, token, cookie)


async def log_out(active: ActiveSession, deps: ConsoleDeps) -> None:
    await _end(active.session, deps.accounts)


async def end_session_of(cookie: str | None, deps: ConsoleDeps) -> None:
    """Ends the session `cookie` opens, if any: a browser signing in again leaves no older session of its own alive,
    whoever it was for."""
    if cookie:
        session = await deps.accounts.sessions.session(session_digest(cookie))
        if session is not None:
            await _end(session, deps.accounts)


async def _end(session: Session, accounts: Accounts) -> None:
    await accounts.tokens.revoke(session.token_id)
    await accounts.sessions.remove(session.digest)


# ---------------------------------------------------------------------------------------------------------------
# Staff accounts (the `parterre console` commands)


async def add_staff_member(
    accounts: Accounts,
    *,
    username: str,
    organisation_id: str,
    display_name: str,
    roles: frozenset[Role],
    password: str,
) -> StaffMember:
    """Raises ValueError (bad username or organisation, taken username) or PasswordRejectedError."""
    name = valid_username(username)
    validate_organisation_id(organisation_id)
    if not roles:
        raise BilingualValueError(
            en="a staff member needs at least one role", fr="un membre du personnel doit avoir au moins un rôle"
        )
    check_new_password(password, username=name)
    member = StaffMember(
        username=name,
        organisation_id=organisation_id,
        display_name=display_name.strip() or name,
        roles=roles,
        password_hash=await asyncio.to_thread(hash_password, password),
        created_at=accounts.clock.now(),
    )
    if not await accounts.staff.add(member):
        raise BilingualValueError(
            en=f"the username {name!r} is taken", fr=f"le nom d'utilisateur {quoted(name, 'fr')} est déjà pris"
        )
    return member


async def set_password(accounts: Accounts, username: str, password: str) -> StaffMember:
    """A new password; every open session of the member ends.

    The member is written before her sessions are listed: a login checking the old password meanwhile either sees
    the change (and ends its session) or stored its session before the change, so that the list holds it."""
    member = await _existing(accounts, username)
    check_new_password(password, username=member.username)
    await accounts.staff.set_password_hash(member.username, await asyncio.to_thread(hash_password, password))
    await end_sessions_of(accounts, member.username)
    return await _existing(accounts, member.username)


async def disable_staff_member(accounts: Accounts, username: str) -> StaffMember:
    """The member can no longer log in; every open session of hers ends (written first, as in `set_password`).
    Disabling again ends any session still open."""
    member = await _existing(accounts, username)
    await accounts.staff.disable(member.username, accounts.clock.now())
    await end_sessions_of(accounts, member.username)
    return await _existing(accounts, member.username)


async def end_sessions_of(accounts: Accounts, username: str) -> int:
    sessions = await accounts.sessions.sessions_of(username)
    for session in sessions:
        await _end(session, accounts)
    return len(sessions)


async def _existing(accounts: Accounts, username: str) -> StaffMember:
    member = await accounts.staff.member(valid_username(username))
    if member is None:
        raise BilingualValueError(
            en=f"no staff member {username!r}",
            fr=f"aucun membre du personnel n'a le nom d'utilisateur {quoted(username, 'fr')}",
        )
    return member
