"""The notice a page shows once an action was taken: only for an action this session took, on the page it led to,
once; a link cannot make a page claim that something was done. The console is opened over HTTPS, as its cookies are
sent over HTTPS only."""

import asyncio
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from services.console.domain.roles import Role
from services.console.entrypoints.http import LANGUAGE_COOKIE, SESSION_COOKIE
from services.console.handlers import ActiveSession, log_in
from tests.unit.console.console_app import PASSWORD, PERSON, Platform, console_as, not_found
from tests.unit.console.test_console_resilience import patron_platform

ERASURE_REQUESTED = "Effacement demandé"


def erasing(request: httpx.Request) -> httpx.Response:
    """per_1's pages, and profile accepting their erasure."""
    if request.method == "POST" and request.url.path == "/v1/persons/per_1/erase":
        return httpx.Response(202, json={"request_id": "era_1"})
    answer: httpx.Response = patron_platform([])(request)
    return answer


def console_over_https(*roles: Role, platform: Platform = erasing) -> tuple[TestClient, ActiveSession]:
    browser, active = console_as(platform, *roles)
    https = TestClient(
        browser.app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    )
    for name in (SESSION_COOKIE, LANGUAGE_COOKIE):
        https.cookies.set(name, browser.cookies[name])
    return https, active


def erasure_requested(browser: TestClient, csrf_token: str) -> httpx.Response:
    answer: httpx.Response = browser.post(
        "/patrons/per_1/erase", data={"csrf_token": csrf_token, "confirmation": "EFFACER", "reason": "Demande"}
    )
    assert answer.status_code == 303
    return answer


@pytest.mark.parametrize(
    "address",
    ["/patrons?done=erasure_requested", "/patrons/per_1?done=unmerged", "/patrons?done=replayed"],
)
def test_a_link_naming_an_action_makes_no_page_claim_it_was_done(address: str) -> None:
    browser, _ = console_over_https(Role.PRIVACY, Role.VIEWER)

    answer = browser.get(address)

    assert answer.status_code == 200
    assert 'class="notice"' not in answer.text


def test_a_link_to_the_sign_in_page_cannot_say_the_member_was_logged_out() -> None:
    browser, _ = console_over_https(Role.VIEWER)
    browser.cookies.clear()

    answer = browser.get("/login?done=logged_out")

    assert answer.status_code == 200
    assert "Vous êtes déconnecté" not in answer.text


def test_an_erasure_requested_is_said_once_on_the_page_it_leads_to() -> None:
    browser, active = console_over_https(Role.PRIVACY, Role.VIEWER)

    requested = erasure_requested(browser, active.session.csrf_token)
    landed = browser.get(requested.headers["location"])

    assert landed.status_code == 200
    assert ERASURE_REQUESTED in landed.text
    assert ERASURE_REQUESTED not in browser.get(requested.headers["location"]).text


def test_logging_out_says_so_on_the_sign_in_page() -> None:
    browser, active = console_over_https(Role.VIEWER)

    logged_out = browser.post("/logout", data={"csrf_token": active.session.csrf_token})
    assert logged_out.status_code == 303
    landed = browser.get(logged_out.headers["location"])

    assert "Vous êtes déconnecté" in landed.text


def test_a_notice_is_shown_to_the_session_that_took_the_action_only() -> None:
    browser, active = console_over_https(Role.PRIVACY, Role.VIEWER)
    requested = erasure_requested(browser, active.session.csrf_token)
    # Another session, in the same browser, before the notice was seen.
    context = browser.app.state.runtime.extras["console"]  # type: ignore[attr-defined]
    other = asyncio.run(log_in("marie", PASSWORD, context.deps))
    browser.cookies.set(SESSION_COOKIE, other.cookie)

    landed = browser.get(requested.headers["location"])

    assert landed.status_code == 200
    assert ERASURE_REQUESTED not in landed.text


def test_a_notice_is_shown_on_the_page_the_action_led_to_only() -> None:
    browser, active = console_over_https(Role.PRIVACY, Role.VIEWER)
    erasure_requested(browser, active.session.csrf_token)

    elsewhere = browser.get("/patrons/per_1")

    assert elsewhere.status_code == 200
    assert ERASURE_REQUESTED not in elsewhere.text


def test_a_merge_undone_is_said_on_the_page_of_the_patron_whatever_their_id_is_made_of() -> None:
    person_id = "per é 1"

    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path.endswith("/unmerge"):
            return httpx.Response(200, json={"merge_id": "m1"})
        if path.endswith("/timeline"):
            return httpx.Response(200, json={"items": []})
        if path == "/v1/definitions":
            return httpx.Response(200, json={"segments": [], "triggers": []})
        if path == f"/v1/persons/{person_id}":
            return httpx.Response(200, json=PERSON | {"person_id": person_id})
        return not_found(request)

    browser, active = console_over_https(Role.REVIEWER, Role.VIEWER, platform=platform)

    undone = browser.post(
        f"/patrons/{quote(person_id, safe='')}/unmerge",
        data={"csrf_token": active.session.csrf_token, "merge_id": "m1"},
    )
    assert undone.status_code == 303
    landed = browser.get(undone.headers["location"])

    assert landed.status_code == 200
    assert "Fusion annulée" in landed.text
