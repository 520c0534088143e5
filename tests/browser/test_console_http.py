"""The console's safeguards seen from HTTP: forms need the session's CSRF token, sessions end for good, redirects stay
on the site, and pages carry headers that keep them out of caches and frames."""

import csv
import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.browser import season
from tests.browser.conftest import PASSWORD, ConsoleUnderTest
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


@pytest.fixture
async def browser_like(console: ConsoleUnderTest) -> AsyncIterator[httpx.AsyncClient]:
    # Secure cookies travel over http://127.0.0.1 in browsers; httpx is told the same so it sends them back.
    async with httpx.AsyncClient(base_url=console.url, follow_redirects=False) as client:
        yield client


async def _log_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, next_url: str = "/patrons"
) -> httpx.Response:
    form = await client.get("/login", params={"next": next_url})
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
    assert login_csrf is not None
    _keep_cookies(client, form)
    answer = await client.post(
        "/login",
        data={"username": username, "password": password, "next": next_url, "login_csrf": login_csrf[1]},
    )
    _keep_cookies(client, answer)
    return answer


def _keep_cookies(client: httpx.AsyncClient, answer: httpx.Response) -> None:
    """What a browser does with the console's cookies on http://127.0.0.1 (Python's cookie jar would not send
    `Secure` cookies over plain HTTP): the newest value of each name is sent back."""
    for cookie in answer.cookies.jar:
        client.cookies.delete(cookie.name)
        client.cookies.set(cookie.name, cookie.value or "")


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found[1]


async def test_a_form_posted_without_the_session_s_csrf_token_is_refused(
    browser_like: httpx.AsyncClient,
) -> None:
    assert (await _log_in(browser_like, "marie")).status_code == 303
    page = await browser_like.get("/review")
    assert page.status_code == 200
    for token in (None, "forged", _csrf(page) + "x"):
        data = {"decision": "reject"} | ({"csrf_token": token} if token else {})
        refused = await browser_like.post("/review/rev_0000", data=data)
        assert refused.status_code == 403
        assert "Formulaire refusé" in refused.text
    refused = await browser_like.post("/logout", data={})
    assert refused.status_code == 403


async def test_a_login_form_not_served_by_the_console_is_refused(browser_like: httpx.AsyncClient) -> None:
    answer = await browser_like.post(
        "/login", data={"username": "marie", "password": PASSWORD, "next": "/patrons", "login_csrf": "made-up"}
    )
    assert answer.status_code == 401
    assert "parterre_session" not in answer.cookies


async def test_after_logging_out_the_old_session_cookie_opens_nothing(browser_like: httpx.AsyncClient) -> None:
    logged_in = await _log_in(browser_like, "marie")
    session = logged_in.cookies.get("parterre_session")
    assert session
    page = await browser_like.get("/patrons")
    assert page.status_code == 200
    answer = await browser_like.post("/logout", data={"csrf_token": _csrf(page)})
    assert answer.status_code == 303
    browser_like.cookies.delete("parterre_session")
    browser_like.cookies.set("parterre_session", session)
    again = await browser_like.get("/patrons")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
async def test_the_page_after_login_is_always_on_this_site(browser_like: httpx.AsyncClient, target: str) -> None:
    answer = await _log_in(browser_like, "marie", next_url=target)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    # The console's own home, which sends Marie on to the first page her roles open.
    home = await browser_like.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/patrons"


async def test_pages_forbid_framing_outside_scripts_and_caching(
    browser_like: httpx.AsyncClient, console: ConsoleUnderTest
) -> None:
    await _log_in(browser_like, "marie")
    page = await browser_like.get("/patrons", params={"q": "cote"})
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    login = await httpx.AsyncClient(base_url=console.url).get("/login")
    set_cookie = login.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "secure" in set_cookie
    assert "samesite=strict" in set_cookie


async def test_repeated_wrong_passwords_lock_the_username_for_a_while(browser_like: httpx.AsyncClient) -> None:
    for _ in range(10):
        refused = await _log_in(browser_like, "guichet", password="not it at all, sorry")
        assert refused.status_code == 401
    locked = await _log_in(browser_like, "guichet")
    assert locked.status_code == 401
    assert "Trop d&#39;essais manqués" in locked.text


async def test_an_unknown_segment_s_export_is_a_page_saying_so_not_a_broken_download(
    browser_like: httpx.AsyncClient,
) -> None:
    await _log_in(browser_like, "marie")
    page = await browser_like.get("/segments")
    answer = await browser_like.post("/segments/no-such-segment/export.csv", data={"csrf_token": _csrf(page)})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Aucun segment de ce nom." in answer.text


async def test_an_action_a_service_refuses_shows_the_service_s_reason_in_the_page_language(
    browser_like: httpx.AsyncClient,
) -> None:
    await _log_in(browser_like, "marie")
    page = await browser_like.get("/review")
    refused = await browser_like.post(
        "/review/rev_000000000000", data={"decision": "accept", "csrf_token": _csrf(page)}
    )
    assert refused.status_code == 404
    assert "L&#39;action a échoué" in refused.text
    assert "Suggestion introuvable." in refused.text


async def test_a_person_s_data_is_exported_only_by_a_form_from_the_session_never_by_following_a_link(
    browser_like: httpx.AsyncClient, console: ConsoleUnderTest
) -> None:
    person = await console.person_by_email(season.HELENE.shop_email)
    assert person is not None
    person_id = person["merged_into"] or person["person_id"]
    path = f"/patrons/{person_id}/export"

    async def notify_knows_her() -> bool:
        return await console.api("notify", f"/v1/persons/{person_id}/export") is not None

    assert await eventually(notify_knows_her)
    await _log_in(browser_like, "marie")
    confirmation = await browser_like.get(path, params={"format": "json"})
    assert confirmation.status_code == 200
    assert confirmation.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in confirmation.headers
    refused = await browser_like.post(path, data={"format": "json"})
    assert refused.status_code == 403
    exported = await browser_like.post(path, data={"format": "csv", "csrf_token": _csrf(confirmation)})
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment")
    assert exported.headers["content-type"].startswith("text/csv")
    # Profile's part, identity's (her identifiers), then notify's: the contact it keeps for her.
    parts = {row[0] for row in csv.reader(io.StringIO(exported.text.removeprefix("\ufeff"), newline="")) if row}
    assert {"profile", "fact", "identity", "identity_identifiers", "notify_person", "notify_contact"} <= parts
