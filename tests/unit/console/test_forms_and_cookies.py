"""What the console answers a forged or malformed form, and the flags its cookies carry over HTTPS."""

import html
import re

import pytest
from fastapi.testclient import TestClient

from services.console.domain.roles import Role
from services.console.entrypoints.http import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from services.console.settings import ConsoleSettings
from tests.unit.console.console_app import PASSWORD, console_as, not_found


def test_a_form_posted_with_a_token_outside_ascii_is_refused_on_the_bad_form_page_and_the_session_stays() -> None:
    browser, _ = console_as(not_found, Role.VIEWER)

    answer = browser.post("/logout", data={"csrf_token": "jeton-forgé"})

    assert answer.status_code == 403
    assert "Formulaire refusé" in answer.text
    assert browser.get("/patrons").status_code == 200


def test_a_sign_in_form_with_a_token_outside_ascii_is_answered_as_expired() -> None:
    browser, _ = console_as(not_found, Role.VIEWER)
    browser.cookies.clear()
    browser.cookies.set(LOGIN_CSRF_COOKIE, "jeton")

    answer = browser.post("/login", data={"login_csrf": "jeton-forgé", "username": "marie", "password": PASSWORD})

    assert answer.status_code == 401
    assert "Le formulaire a expiré" in answer.text


def test_cookies_set_over_https_are_secure_even_with_secure_cookies_turned_off_for_plain_http() -> None:
    browser, _ = console_as(not_found, Role.VIEWER)
    browser.app.state.runtime.extras["console"].settings = ConsoleSettings(  # type: ignore[attr-defined]
        console_secure_cookies=False
    )
    https = TestClient(browser.app, base_url="https://console.example", follow_redirects=False)

    form = https.get("/login")
    login_csrf = https.cookies[LOGIN_CSRF_COOKIE]
    signed_in = https.post("/login", data={"login_csrf": login_csrf, "username": "marie", "password": PASSWORD})

    assert signed_in.status_code == 303
    set_cookies = [*form.headers.get_list("set-cookie"), *signed_in.headers.get_list("set-cookie")]
    for name in (LOGIN_CSRF_COOKIE, SESSION_COOKIE):
        [cookie] = [header for header in set_cookies if header.startswith(f"{name}=") and "Max-Age=0" not in header]
        assert "; Secure" in cookie, cookie


def test_signing_in_again_ends_the_session_the_browser_held() -> None:
    browser, before = console_as(not_found, Role.VIEWER)
    https = TestClient(browser.app, base_url="https://console.example", follow_redirects=False)
    # The sign-in form, opened in another tab before signing in there.
    https.get("/login")
    https.cookies.set(SESSION_COOKIE, before.cookie)

    signed_in = https.post(
        "/login", data={"login_csrf": https.cookies[LOGIN_CSRF_COOKIE], "username": "marie", "password": PASSWORD}
    )

    assert signed_in.status_code == 303
    after = signed_in.cookies[SESSION_COOKIE]
    assert after != before.cookie
    browser.cookies.set(SESSION_COOKIE, after)
    assert browser.get("/patrons").status_code == 200
    # Whoever kept the older cookie holds nothing any more.
    browser.cookies.set(SESSION_COOKIE, before.cookie)
    assert browser.get("/patrons").status_code == 303


@pytest.mark.parametrize(
    ("form", "french", "english"),
    [
        (
            {"username": "marie" * 41},
            "Le nom d'utilisateur dépasse 200 caractères",
            "The username is over 200 characters",
        ),
        (
            {"next": "/patrons?q=" + "q" * 1990},
            "L'adresse de la page à rouvrir dépasse",
            "The address of the page to return",
        ),
        ({"password": "p" * 1025}, "Le mot de passe dépasse 1 024 caractères", "The password is over 1,024 characters"),
    ],
    ids=["username", "next", "password"],
)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_sign_in_field_too_long_brings_the_form_back_with_what_was_typed_and_says_which(
    form: dict[str, str], french: str, english: str, language: str
) -> None:
    browser, _ = console_as(not_found, Role.VIEWER, language=language)
    browser.cookies.delete(SESSION_COOKIE)
    browser.cookies.set(LOGIN_CSRF_COOKIE, "jeton")
    typed = {"username": "marie", "password": PASSWORD} | form

    answer = browser.post("/login", data={"login_csrf": "jeton", **typed})

    assert answer.status_code == 401
    assert 'action="/login"' in answer.text
    assert (french if language == "fr" else english) in html.unescape(answer.text)
    # What was typed, as far as a username can go: a paste of any length does not come back whole.
    assert re.findall(r'name="username"[^>]*value="([^"]*)"', answer.text) == [typed["username"][:200]]
    assert typed["password"] not in answer.text
    assert SESSION_COOKIE not in answer.cookies


def test_signing_in_again_from_a_form_whose_page_address_was_too_long_leads_home() -> None:
    browser, _ = console_as(not_found, Role.VIEWER)
    browser.cookies.delete(SESSION_COOKIE)
    browser.cookies.set(LOGIN_CSRF_COOKIE, "jeton")
    refused = browser.post(
        "/login",
        data={
            "login_csrf": "jeton",
            "username": "marie",
            "password": PASSWORD,
            "next": "/patrons?q=" + "q" * 1990,
        },
    )
    [next_sent] = re.findall(r'name="next" value="([^"]*)"', refused.text)

    signed_in = browser.post(
        "/login",
        data={
            "login_csrf": "jeton",
            "username": "marie",
            "password": PASSWORD,
            "next": next_sent,
        },
    )

    assert (next_sent, signed_in.status_code, signed_in.headers["location"]) == ("/", 303, "/")
