"""A form posted after the session ended, and a request the routes refuse: the member lands on a page, in their
language, never on the framework's JSON or on an address that answers only posts."""

import asyncio
import html
import re
from typing import Any

import httpx
import pytest

from services.console.domain.roles import Role
from services.console.entrypoints.http import SESSION_COOKIE
from services.console.handlers import log_in
from tests.unit.console.console_app import PASSWORD, console_as
from tests.unit.console.test_console_resilience import REVIEW_ITEM, patron_platform

# per_1's page, and a suggestion to review.
review_platform = patron_platform([], reviews=[REVIEW_ITEM])


def logged_in_again(browser: Any) -> None:
    context = browser.app.state.runtime.extras["console"]
    again = asyncio.run(log_in("marie", PASSWORD, context.deps))
    browser.cookies.set(SESSION_COOKIE, again.cookie)


def idle_for_an_hour(browser: Any) -> None:
    browser.app.state.runtime.extras["console"].deps.accounts.clock.advance(minutes=61)


@pytest.mark.parametrize(
    ("posted_to", "form", "referer", "back_to"),
    [
        ("/review/rev_1", {"decision": "accept"}, "http://testserver/review", "/review"),
        ("/review/rev_1", {"decision": "accept"}, None, "/"),
        ("/logout", {}, "http://testserver/patrons/per_1", "/patrons/per_1"),
        # Another site's page is never where the console sends anyone.
        ("/logout", {}, "https://elsewhere.example/patrons", "/"),
        # A page served where a form posted (a refusal, a failure) cannot be opened again: the home page can.
        ("/logout", {}, "http://testserver/review/rev_1", "/"),
        ("/logout", {}, "http://testserver/patrons/per_1/unmerge", "/"),
    ],
)
def test_a_form_posted_after_the_session_idled_out_leads_back_to_its_page_once_logged_in(
    posted_to: str, form: dict[str, str], referer: str | None, back_to: str
) -> None:
    browser, active = console_as(review_platform, Role.REVIEWER, Role.VIEWER)
    idle_for_an_hour(browser)

    answer = browser.post(
        posted_to,
        data={"csrf_token": active.session.csrf_token, **form},
        headers={"referer": referer} if referer else {},
    )

    assert answer.status_code == 303
    next_page = httpx.URL(answer.headers["location"]).params["next"]
    assert next_page == back_to
    logged_in_again(browser)
    landed = browser.get(next_page, follow_redirects=True)
    assert landed.status_code == 200, (next_page, landed.text[:200])


def test_a_page_asked_for_after_the_session_idled_out_is_the_one_returned_to() -> None:
    browser, _ = console_as(review_platform, Role.REVIEWER)
    idle_for_an_hour(browser)

    answer = browser.get("/review?done=accepted")

    assert httpx.URL(answer.headers["location"]).params["next"] == "/review?done=accepted"


def test_an_erasure_reason_within_the_textarea_s_limit_is_kept_whatever_its_line_breaks() -> None:
    browser, active = console_as(patron_platform([]), Role.PRIVACY)
    # 40 lines: 1,999 characters as the textarea (maxlength 2000) counts them, a line break being one; the browser
    # sends each as CR LF, 2,038 in all.
    reason = "\r\n".join(["Demande reçue par courriel, voir le dossier 2026."] * 40)
    assert len(reason.replace("\r\n", "\n")) <= 2000 < len(reason)

    # The confirmation word forgotten: the page comes back with what was typed.
    answer = browser.post(
        "/patrons/per_1/erase", data={"csrf_token": active.session.csrf_token, "confirmation": "", "reason": reason}
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "Tapez le mot demandé" in answer.text
    assert "Demande reçue par courriel" in answer.text


def test_an_erasure_reason_longer_than_the_log_keeps_is_sent_back_to_be_shortened() -> None:
    browser, active = console_as(patron_platform([]), Role.PRIVACY)

    answer = browser.post(
        "/patrons/per_1/erase",
        data={"csrf_token": active.session.csrf_token, "confirmation": "EFFACER", "reason": "x" * 2001},
    )

    assert answer.status_code == 422
    assert "raccourcissez-la" in answer.text
    assert "x" * 2001 in answer.text


@pytest.mark.parametrize(
    ("language", "words"), [("fr", "Demande refusée"), ("en", "Request refused")], ids=["fr", "en"]
)
@pytest.mark.parametrize(
    "request_sent",
    [
        ("post", "/review/rev_1", {"decision": "accept", "note": "n" * 2001}),
        ("get", "/patrons?q=" + "q" * 201, None),
        ("get", "/overview?refresh=peut-etre", None),
    ],
    ids=["note too long", "search too long", "not a flag"],
)
def test_a_request_the_routes_refuse_is_answered_with_a_page_in_the_member_s_language(
    request_sent: tuple[str, str, dict[str, str] | None], language: str, words: str
) -> None:
    browser, active = console_as(review_platform, Role.REVIEWER, Role.VIEWER, language=language)
    method, path, form = request_sent

    if method == "post":
        answer = browser.post(path, data={"csrf_token": active.session.csrf_token, **(form or {})})
    else:
        answer = browser.get(path)

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert words in answer.text


@pytest.mark.parametrize(
    ("referer", "back_to"),
    [("http://testserver/review", "/review"), (None, "/")],
    ids=["from the review queue", "without a referer"],
)
def test_switching_language_on_the_page_of_a_refused_decision_opens_a_page_in_the_other_language(
    referer: str | None, back_to: str
) -> None:
    def already_decided(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            message = {"en": "This suggestion was already decided.", "fr": "Cette suggestion est déjà décidée."}
            return httpx.Response(409, json={"detail": {"code": "already_decided", "message": message}})
        answer: httpx.Response = review_platform(request)
        return answer

    browser, active = console_as(already_decided, Role.REVIEWER, Role.VIEWER)
    refused = browser.post(
        "/review/rev_1",
        data={"csrf_token": active.session.csrf_token, "decision": "accept"},
        headers={"referer": referer} if referer else {},
    )
    assert refused.status_code == 409
    link = re.search(r'class="language" href="([^"]+)"', refused.text)
    assert link is not None

    switched = browser.get(html.unescape(link[1]))

    assert switched.status_code == 303
    assert switched.headers["location"] == back_to
    landed = browser.get(back_to, follow_redirects=True)
    assert landed.status_code == 200, landed.text[:200]
    assert landed.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("language", "words"), [("fr", "Page introuvable"), ("en", "Page not found")], ids=["fr", "en"]
)
@pytest.mark.parametrize(
    ("path", "status_code"),
    [("/segment", 404), ("/patrons/per_1/historique", 404), ("/logout", 405), ("/patrons/per_1/unmerge", 405)],
    ids=["mistyped", "no such page of a patron", "a form's address typed", "a form's address from the history"],
)
def test_an_address_that_opens_no_page_is_answered_with_a_page_in_the_member_s_language(
    path: str, status_code: int, language: str, words: str
) -> None:
    browser, _ = console_as(review_platform, Role.REVIEWER, Role.VIEWER, language=language)

    answer = browser.get(path)

    assert answer.status_code == status_code
    assert answer.headers["content-type"].startswith("text/html")
    assert words in answer.text


@pytest.mark.parametrize("path", ["/static/gone.css", "/favicon.ico"])
def test_a_file_a_browser_asks_for_by_itself_is_refused_briefly_not_with_a_page(path: str) -> None:
    browser, _ = console_as(review_platform, Role.REVIEWER, Role.VIEWER)

    answer = browser.get(path)

    assert answer.status_code == 404
    assert answer.json()["detail"]["code"] == "not_found"


def test_a_form_the_framework_cannot_read_is_refused_in_both_languages_as_every_service_refuses_it() -> None:
    browser, _ = console_as(review_platform, Role.REVIEWER, Role.VIEWER)

    refused = browser.post("/review/rev_1", content=b"decision=accept", headers={"content-type": "multipart/form-data"})

    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert detail["code"] == "unreadable_body"
    assert set(detail["message"]) == {"en", "fr"}
