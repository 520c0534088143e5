"""What staff accounts and sessions must do, written once and run against the in-memory fakes (unit tests) and
against the MongoDB adapters with the real token store (tests/integration/console): the fakes stay honest."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import pytest

from services.console.adapters.platform_api import PlatformApi, ServiceUrls
from services.console.domain.accounts import LoginThrottle, Session, StaffMember
from services.console.domain.passwords import PasswordRejectedError
from services.console.domain.roles import Role
from services.console.handlers import (
    Accounts,
    ConsoleDeps,
    LoginRefusedError,
    add_staff_member,
    current_session,
    disable_staff_member,
    log_in,
    log_out,
    set_password,
)
from services.console.ports import SessionStore, StaffDirectory
from shared.tokens import Scope
from tests.unit.console.fakes import SteppingClock

PASSWORD = "une phrase de passe assez longue"
Scenario = Callable[[Accounts, SteppingClock], Awaitable[None]]


def deps_for(accounts: Accounts, *, attempts: int = 3) -> ConsoleDeps:
    urls = ServiceUrls("http://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1")
    return ConsoleDeps(
        accounts=accounts,
        api=PlatformApi(urls, timeout_seconds=1),
        throttle=LoginThrottle(limit=attempts, window=timedelta(minutes=15)),
        session_length=timedelta(hours=10),
        idle_limit=timedelta(minutes=60),
    )


async def _marie(accounts: Accounts, *roles: Role) -> None:
    await add_staff_member(
        accounts,
        username="Marie",
        organisation_id="theatre-demo",
        display_name="Marie Gagnon",
        roles=frozenset(roles or (Role.REVIEWER,)),
        password=PASSWORD,
    )


async def a_member_logs_in_and_the_session_acts_with_her_roles_scopes(accounts: Accounts, clock: SteppingClock) -> None:
    await _marie(accounts, Role.REVIEWER)
    deps = deps_for(accounts)
    active = await log_in("marie", PASSWORD, deps)
    assert active.session.username == "marie"
    assert active.session.organisation_id == "theatre-demo"
    assert active.allows(Scope.IDENTITY_REVIEW)
    assert not active.allows(Scope.PRIVACY_ERASE)
    assert active.token.startswith("prt_")
    # The store keeps the token sealed and the cookie digested: neither is in the stored session.
    stored = await accounts.sessions.session(active.session.digest)
    assert stored is not None
    assert active.token not in stored.sealed_token
    assert active.cookie not in stored.digest
    again = await current_session(active.cookie, deps)
    assert again is not None
    assert again.token == active.token


async def a_wrong_password_an_unknown_user_and_a_disabled_member_get_one_answer(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    deps = deps_for(accounts, attempts=100)
    for username, password in (("marie", "not the right one"), ("nobody", PASSWORD), ("", PASSWORD)):
        with pytest.raises(LoginRefusedError) as refused:
            await log_in(username, password, deps)
        assert refused.value.reason == "invalid"
    await disable_staff_member(accounts, "marie")
    with pytest.raises(LoginRefusedError) as refused:
        await log_in("marie", PASSWORD, deps)
    assert refused.value.reason == "invalid"


async def repeated_failures_lock_the_username_even_for_the_right_password(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    deps = deps_for(accounts, attempts=3)
    for _ in range(3):
        with pytest.raises(LoginRefusedError):
            await log_in("marie", "guess", deps)
    with pytest.raises(LoginRefusedError) as refused:
        await log_in("marie", PASSWORD, deps)
    assert refused.value.reason == "locked"


async def guesses_sent_together_are_checked_no_more_than_the_limit(accounts: Accounts, clock: SteppingClock) -> None:
    await _marie(accounts)
    deps = deps_for(accounts, attempts=3)

    async def attempt(password: str) -> str:
        try:
            await log_in("marie", password, deps)
        except LoginRefusedError as refused:
            return refused.reason
        return "in"

    answers = await asyncio.gather(*(attempt(f"guess {index}") for index in range(20)), attempt(PASSWORD))

    assert answers.count("invalid") == 3
    assert answers.count("locked") == 18
    assert answers[-1] == "locked", "the right password, sent after the limit, waits out the lock too"


async def a_session_ends_when_idle_or_expired_and_its_token_is_revoked(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    deps = deps_for(accounts)
    active = await log_in("marie", PASSWORD, deps)
    clock.advance(minutes=59)
    assert await current_session(active.cookie, deps) is not None
    clock.advance(minutes=59)
    assert await current_session(active.cookie, deps) is not None
    clock.advance(minutes=61)
    assert await current_session(active.cookie, deps) is None
    assert await accounts.sessions.session(active.session.digest) is None
    assert not await accounts.tokens.revoke(active.session.token_id), "the token was revoked already"


class _ListsTokens(Protocol):
    async def list(self, organisation_id: str | None = None) -> Sequence[Mapping[str, Any]]: ...


async def ended_sessions_and_their_tokens_are_cleared_at_the_next_sign_in(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    deps = deps_for(accounts, attempts=100)
    tokens = cast(_ListsTokens, accounts.tokens)
    # A month of days each begun by signing in and left with the browser closed; one day signed out.
    for _day in range(30):
        left = await log_in("marie", PASSWORD, deps)
        clock.advance(minutes=24 * 60)
    await log_out(left, deps)
    kept = await log_in("marie", PASSWORD, deps)
    other = await log_in("marie", PASSWORD, deps)

    sessions = await accounts.sessions.sessions_of("marie")
    listed = await tokens.list("theatre-demo")

    assert sorted(session.digest for session in sessions) == sorted([kept.session.digest, other.session.digest])
    assert sorted(token["_id"] for token in listed) == sorted([kept.session.token_id, other.session.token_id])
    assert await current_session(kept.cookie, deps) is not None
    assert await current_session(other.cookie, deps) is not None


async def logging_out_ends_the_session_and_revokes_its_token(accounts: Accounts, clock: SteppingClock) -> None:
    await _marie(accounts)
    deps = deps_for(accounts)
    active = await log_in("marie", PASSWORD, deps)
    await log_out(active, deps)
    assert await current_session(active.cookie, deps) is None
    assert not await accounts.tokens.revoke(active.session.token_id)


async def a_cookie_that_is_not_a_session_s_opens_nothing(accounts: Accounts, clock: SteppingClock) -> None:
    await _marie(accounts)
    deps = deps_for(accounts)
    active = await log_in("marie", PASSWORD, deps)
    for cookie in ("", "forged", active.cookie + "x", active.session.digest):
        assert await current_session(cookie, deps) is None
    assert await current_session(active.cookie, deps) is not None


async def a_new_password_or_a_disabled_account_ends_every_open_session(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    deps = deps_for(accounts)
    first, second = await log_in("marie", PASSWORD, deps), await log_in("marie", PASSWORD, deps)
    await set_password(accounts, "marie", "une autre phrase de passe")
    assert await current_session(first.cookie, deps) is None
    assert await current_session(second.cookie, deps) is None
    third = await log_in("marie", "une autre phrase de passe", deps)
    await disable_staff_member(accounts, "marie")
    assert await current_session(third.cookie, deps) is None


class _ChangedWhileChecking:
    """The staff directory as a login sees it when, just after the login has read the member and while it checks
    her password, `change` runs in another process (`parterre console disable` or `set-password`)."""

    def __init__(self, staff: StaffDirectory, change: Callable[[], Awaitable[object]]) -> None:
        self._staff = staff
        self._change: Callable[[], Awaitable[object]] | None = change

    async def add(self, member: StaffMember) -> bool:
        return await self._staff.add(member)

    async def member(self, username: str) -> StaffMember | None:
        found = await self._staff.member(username)
        change, self._change = self._change, None
        if change is not None:
            await change()
        return found

    async def set_password_hash(self, username: str, password_hash: str) -> None:
        await self._staff.set_password_hash(username, password_hash)

    async def disable(self, username: str, at: datetime) -> None:
        await self._staff.disable(username, at)

    async def members(self, organisation_id: str | None = None) -> Sequence[StaffMember]:
        return await self._staff.members(organisation_id)


async def _log_in_while(accounts: Accounts, change: Callable[[], Awaitable[object]]) -> None:
    """Marie logs in with her password while `change` happens: she is refused and no session of hers is open."""
    racing = Accounts(_ChangedWhileChecking(accounts.staff, change), accounts.sessions, accounts.tokens, accounts.clock)
    with pytest.raises(LoginRefusedError, match="invalid"):
        await log_in("marie", PASSWORD, deps_for(racing))
    assert list(await accounts.sessions.sessions_of("marie")) == []


async def a_member_disabled_while_her_password_is_checked_is_left_with_no_session(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    await _log_in_while(accounts, lambda: disable_staff_member(accounts, "marie"))


async def a_login_with_the_password_changed_while_it_is_checked_is_left_with_no_session(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    await _log_in_while(accounts, lambda: set_password(accounts, "marie", "une autre phrase de passe"))
    assert await log_in("marie", "une autre phrase de passe", deps_for(accounts)) is not None


async def a_password_set_while_the_account_is_disabled_leaves_it_disabled(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    # `parterre console set-password marie` reads her, hashes the new password, and meanwhile another command
    # disables her: the new password must not bring her back.
    racing = Accounts(
        _ChangedWhileChecking(accounts.staff, lambda: disable_staff_member(accounts, "marie")),
        accounts.sessions,
        accounts.tokens,
        accounts.clock,
    )
    await set_password(racing, "marie", "une autre phrase de passe")
    stored = await accounts.staff.member("marie")
    assert stored is not None
    assert not stored.is_active
    with pytest.raises(LoginRefusedError, match="invalid"):
        await log_in("marie", "une autre phrase de passe", deps_for(accounts))


class _CrashingBeforeSessionsEnd:
    """The session store as `parterre console disable` or `set-password` sees it when the command dies after writing
    the member, before it ends her sessions: listing them fails."""

    def __init__(self, sessions: SessionStore) -> None:
        self._sessions = sessions

    async def add(self, session: Session) -> None:
        await self._sessions.add(session)

    async def session(self, session_digest: str) -> Session | None:
        return await self._sessions.session(session_digest)

    async def touch(self, session_digest: str, at: datetime) -> None:
        await self._sessions.touch(session_digest, at)

    async def remove(self, session_digest: str) -> None:
        await self._sessions.remove(session_digest)

    async def sessions_of(self, username: str) -> Sequence[Session]:
        raise ConnectionError("the command died here")


async def _change_then_crash(accounts: Accounts, change: Callable[[Accounts], Awaitable[object]]) -> None:
    crashing = Accounts(accounts.staff, _CrashingBeforeSessionsEnd(accounts.sessions), accounts.tokens, accounts.clock)
    with pytest.raises(ConnectionError):
        await change(crashing)


async def a_session_of_a_member_disabled_by_a_command_that_died_before_ending_it_is_refused(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    deps = deps_for(accounts)
    active = await log_in("marie", PASSWORD, deps)
    await _change_then_crash(accounts, lambda crashing: disable_staff_member(crashing, "marie"))
    assert [session.digest for session in await accounts.sessions.sessions_of("marie")] == [active.session.digest]
    clock.advance(seconds=1)
    assert await current_session(active.cookie, deps) is None
    # Refused once is ended for good: the session is gone and its API token revoked.
    assert await accounts.sessions.session(active.session.digest) is None
    assert not await accounts.tokens.revoke(active.session.token_id), "the token was revoked already"


async def a_session_opened_before_a_new_password_set_by_a_command_that_died_before_ending_it_is_refused(
    accounts: Accounts, clock: SteppingClock
) -> None:
    await _marie(accounts)
    deps = deps_for(accounts)
    before = await log_in("marie", PASSWORD, deps)
    await _change_then_crash(accounts, lambda crashing: set_password(crashing, "marie", "une autre phrase de passe"))
    clock.advance(seconds=1)
    assert await current_session(before.cookie, deps) is None
    assert await accounts.sessions.session(before.session.digest) is None
    assert not await accounts.tokens.revoke(before.session.token_id), "the token was revoked already"
    # A session opened with the new password is hers to use.
    after = await log_in("marie", "une autre phrase de passe", deps)
    clock.advance(minutes=5)
    assert await current_session(after.cookie, deps) is not None


async def a_username_is_taken_once_and_a_weak_password_is_refused(accounts: Accounts, clock: SteppingClock) -> None:
    await _marie(accounts)
    with pytest.raises(ValueError, match="taken"):
        await _marie(accounts)
    with pytest.raises(PasswordRejectedError):
        await add_staff_member(
            accounts,
            username="jf",
            organisation_id="theatre-demo",
            display_name="",
            roles=frozenset({Role.VIEWER}),
            password="short",
        )
    with pytest.raises(ValueError, match="organisation"):
        await add_staff_member(
            accounts,
            username="jf",
            organisation_id="Not An Org",
            display_name="",
            roles=frozenset({Role.VIEWER}),
            password=PASSWORD,
        )
    listed = await accounts.staff.members("theatre-demo")
    assert [member.username for member in listed] == ["marie"]
    assert listed[0].password_hash.startswith("scrypt$")


SCENARIOS: list[Scenario] = [
    a_member_logs_in_and_the_session_acts_with_her_roles_scopes,
    a_wrong_password_an_unknown_user_and_a_disabled_member_get_one_answer,
    repeated_failures_lock_the_username_even_for_the_right_password,
    guesses_sent_together_are_checked_no_more_than_the_limit,
    a_session_ends_when_idle_or_expired_and_its_token_is_revoked,
    ended_sessions_and_their_tokens_are_cleared_at_the_next_sign_in,
    logging_out_ends_the_session_and_revokes_its_token,
    a_cookie_that_is_not_a_session_s_opens_nothing,
    a_new_password_or_a_disabled_account_ends_every_open_session,
    a_member_disabled_while_her_password_is_checked_is_left_with_no_session,
    a_login_with_the_password_changed_while_it_is_checked_is_left_with_no_session,
    a_password_set_while_the_account_is_disabled_leaves_it_disabled,
    a_session_of_a_member_disabled_by_a_command_that_died_before_ending_it_is_refused,
    a_session_opened_before_a_new_password_set_by_a_command_that_died_before_ending_it_is_refused,
    a_username_is_taken_once_and_a_weak_password_is_refused,
]
