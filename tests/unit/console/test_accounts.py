from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.console.domain.accounts import (
    MAX_THROTTLED_USERNAMES,
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
from services.console.domain.roles import ROLE_SCOPES, Role, scopes_of
from shared.tokens import Scope

NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _session(**changes: object) -> Session:
    fields: dict[str, object] = {
        "digest": "d",
        "username": "marie",
        "organisation_id": "theatre-demo",
        "display_name": "Marie",
        "scopes": frozenset({Scope.PROFILES_READ}),
        "csrf_token": "c",
        "sealed_token": "s",
        "token_id": "t",
        "created_at": NOON,
        "expires_at": NOON + timedelta(hours=10),
        "last_seen_at": NOON,
        "password_stamp": password_stamp("scrypt$old"),
    }
    fields.update(changes)
    return Session(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("typed", "stored"), [("Marie", "marie"), (" jf.tremblay@theatre ", "jf.tremblay@theatre")])
def test_usernames_are_stored_in_lower_case_without_surrounding_spaces(typed: str, stored: str) -> None:
    assert valid_username(typed) == stored


@pytest.mark.parametrize("typed", ["", "a", "-marie", "marie gagnon", "marie/../x", "x" * 65, "é"])
def test_a_username_outside_the_allowed_characters_is_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="username"):
        valid_username(typed)


def test_a_session_lives_until_it_expires_or_lies_unused_past_the_idle_limit() -> None:
    session = _session()
    idle = timedelta(minutes=60)
    assert session.is_live(NOON + timedelta(minutes=59), idle=idle)
    assert not session.is_live(NOON + timedelta(minutes=60), idle=idle)
    used = _session(last_seen_at=NOON + timedelta(hours=9, minutes=30))
    assert used.is_live(NOON + timedelta(hours=9, minutes=59), idle=idle)
    assert not used.is_live(NOON + timedelta(hours=10), idle=idle)


def test_a_session_stands_only_while_its_member_is_active_with_the_password_it_was_opened_with() -> None:
    marie = StaffMember("marie", "theatre-demo", "Marie", frozenset({Role.VIEWER}), "scrypt$old", NOON)
    session = _session()
    assert session_stands(session, marie)
    assert not session_stands(session, None)
    assert not session_stands(session, replace(marie, disabled_at=NOON + timedelta(minutes=1)))
    assert not session_stands(session, replace(marie, password_hash="scrypt$new"))
    assert not session_stands(_session(username="jf"), marie)
    # A session stored before sessions kept their password's stamp: its member logs in again.
    assert not session_stands(_session(password_stamp=None), marie)


def test_a_password_stamp_does_not_hold_the_password_hash() -> None:
    assert "scrypt$old" not in password_stamp("scrypt$old")
    assert password_stamp("scrypt$old") != password_stamp("scrypt$new")


def test_a_sealed_token_opens_only_with_the_cookie_that_sealed_it() -> None:
    cookie, other = new_session_secret(), new_session_secret()
    sealed = seal_token("prt_0123456789ab_secret", cookie)
    assert "secret" not in sealed
    assert unseal_token(sealed, cookie) == "prt_0123456789ab_secret"
    assert unseal_token(sealed, other) is None


def test_the_stored_digest_of_a_session_cookie_is_stable_and_does_not_reveal_it() -> None:
    cookie = new_session_secret()
    assert session_digest(cookie) == session_digest(cookie)
    assert cookie not in session_digest(cookie)
    assert session_digest(cookie) != session_digest(new_session_secret())


def test_a_username_is_locked_after_the_limit_of_failures_within_the_window_then_freed() -> None:
    throttle = LoginThrottle(limit=3, window=timedelta(minutes=15))
    for minute in range(3):
        assert not throttle.is_locked("marie", NOON + timedelta(minutes=minute))
        throttle.failed("marie", NOON + timedelta(minutes=minute))
    assert throttle.is_locked("marie", NOON + timedelta(minutes=3))
    assert not throttle.is_locked("jf", NOON + timedelta(minutes=3))
    # The first failure leaves the window fifteen minutes after it happened.
    assert not throttle.is_locked("marie", NOON + timedelta(minutes=15))


def test_a_successful_login_clears_the_failures_counted_so_far() -> None:
    throttle = LoginThrottle(limit=2, window=timedelta(minutes=15))
    throttle.failed("marie", NOON)
    throttle.succeeded("marie")
    throttle.failed("marie", NOON)
    assert not throttle.is_locked("marie", NOON)


def test_failures_spread_over_made_up_usernames_do_not_grow_the_throttle_without_bound() -> None:
    throttle = LoginThrottle(limit=5, window=timedelta(minutes=1))
    for index in range(MAX_THROTTLED_USERNAMES + 10):
        throttle.failed(f"guess-{index}", NOON + timedelta(seconds=index))
    assert len(throttle._failures) <= MAX_THROTTLED_USERNAMES + 1


def test_every_role_but_operations_reads_profiles_and_only_the_admin_grants_every_scope() -> None:
    assert scopes_of({Role.ADMIN}) == frozenset(Scope)
    for role in set(Role) - {Role.OPERATIONS}:
        assert Scope.PROFILES_READ in ROLE_SCOPES[role]
    assert Scope.PROFILES_READ not in ROLE_SCOPES[Role.OPERATIONS]
    assert Scope.PRIVACY_ERASE not in scopes_of({Role.VIEWER, Role.MARKETING, Role.REVIEWER})
    assert Scope.IDENTITY_REVIEW in scopes_of({Role.VIEWER, Role.REVIEWER})
