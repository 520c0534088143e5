"""The console telling staff what is true now: a patron erased or merged since, a search that read only part of
what it could match, and a home page each member's roles open."""

import re
from typing import Any

import httpx

from services.console.domain.roles import Role
from services.console.entrypoints.http import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from services.profile.domain.profile import PROFILE_FIELD_NAMES
from tests.unit.console.console_app import PASSWORD, PERSON, console_as, not_found

# What identity answers for a person once erased: their record stays, emptied, with the status that says so; profile
# has deleted their profile and answers 404.
ERASED_PERSON: dict[str, Any] = {**PERSON, "status": "erased"}


def erased_platform(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/persons/per_1":
        return httpx.Response(200, json=ERASED_PERSON)
    if request.url.path == "/v1/definitions":
        return httpx.Response(200, json={"segments": [], "triggers": []})
    return not_found(request)


def test_the_page_of_an_erased_patron_says_they_were_erased_not_that_their_profile_is_on_its_way() -> None:
    browser, _ = console_as(erased_platform, Role.ADMIN, language="en")

    page = browser.get("/patrons/per_1").text

    assert "This patron was erased" in page
    assert "will show once the profile service has it" not in page
    # Nothing left to export or erase.
    assert "/patrons/per_1/export" not in page
    assert "/patrons/per_1/erase" not in page


def test_the_export_and_erase_pages_of_an_erased_patron_say_so_and_offer_no_form() -> None:
    browser, _ = console_as(erased_platform, Role.PRIVACY)

    for step in ("export", "erase"):
        answer = browser.get(f"/patrons/per_1/{step}")

        assert answer.status_code == 410, step
        assert "Cette personne a été effacée" in answer.text, step
        assert '<form method="post" action="/patrons/per_1' not in answer.text, step


def _person(person_id: str, merges: list[dict[str, Any]], merged_into: str | None = None) -> dict[str, Any]:
    return ERASED_PERSON | {
        "person_id": person_id,
        "status": "merged" if merged_into else "active",
        "merged_into": merged_into,
        "merges": merges,
    }


def _merge(merge_id: str, survivor: str, merged: str, at: str) -> dict[str, Any]:
    return {
        "merge_id": merge_id,
        "survivor_person_id": survivor,
        "merged_person_ids": [merged],
        "evidence": [{"identifier_type": "email", "value_hash": None}],
        "decided_by": "rule",
        "merged_at": at,
        "undone_at": None,
    }


def test_a_patron_s_timeline_holds_the_facts_of_a_record_merged_into_one_merged_into_them() -> None:
    # per_c was merged into per_b, then per_b into per_a: per_a's history is all three's, as profile folds it.
    into_b = _merge("mrg_cb", "per_b", "per_c", "2026-03-01T12:00:00+00:00")
    into_a = _merge("mrg_ba", "per_a", "per_b", "2026-06-01T12:00:00+00:00")
    persons = {
        "per_a": _person("per_a", [into_a]),
        "per_b": _person("per_b", [into_b, into_a], merged_into="per_a"),
        "per_c": _person("per_c", [into_b], merged_into="per_b"),
    }
    facts = {
        "per_a": ("parterre.ticket.purchased.v1", "2026-10-01T19:00:00+00:00"),
        "per_b": ("parterre.donation.made.v1", "2026-05-01T19:00:00+00:00"),
        "per_c": ("parterre.shop.order_placed.v1", "2026-02-01T19:00:00+00:00"),
    }

    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        person_id = path.split("/")[3] if path.count("/") >= 3 else ""
        if path.startswith("/v1/persons/") and person_id in persons:
            return httpx.Response(200, json=persons[person_id])
        if path.endswith("/timeline") and person_id in facts:
            kind, time = facts[person_id]
            event = {"type": kind, "time": time, "source": "/orgs/o/boxoffice"}
            return httpx.Response(200, json={"items": [{"number": 1, "event": event}], "next_cursor": None})
        if path == "/v1/profiles/per_a":
            fields = dict.fromkeys(PROFILE_FIELD_NAMES) | {"emails": [], "phones": []}
            return httpx.Response(200, json={"person_id": "per_a", "merged_into": None, "fields": fields})
        if path == "/v1/definitions":
            return httpx.Response(200, json={"segments": [], "triggers": []})
        return not_found(request)

    browser, _ = console_as(platform, Role.VIEWER, language="en")

    answer = browser.get("/patrons/per_a")
    assert answer.status_code == 200, answer.text[-300:]
    page = answer.text
    timeline = page[page.index('id="h-timeline"') :]

    assert "Tickets bought" in timeline
    assert "Donation" in timeline
    assert "Shop order" in timeline


def test_a_search_that_read_only_some_of_the_patrons_it_could_match_never_says_nobody_matches() -> None:
    # Profile reads at most so many holders of a common name: none of those read matched, others were left unread.
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/profiles/search":
            return httpx.Response(200, json={"kind": "name", "items": [], "truncated": True})
        return not_found(request)

    browser, _ = console_as(platform, Role.VIEWER, language="en")

    page = browser.get("/patrons", params={"q": "Marie Tremblai"}).text

    assert "Nobody matches" not in page
    assert "narrow the search" in page


def test_a_member_who_may_not_read_patrons_is_sent_home_to_a_page_of_theirs_not_to_a_refusal() -> None:
    # The operations role reads no patron data: the console's home is the operations page for them.
    browser, _ = console_as(not_found, Role.OPERATIONS)

    home = browser.get("/")

    assert home.status_code == 303
    assert home.headers["location"] == "/operations"


def test_signing_in_without_a_page_to_return_to_leads_to_a_page_the_member_may_see() -> None:
    browser, _ = console_as(not_found, Role.OPERATIONS)
    browser.cookies.delete(SESSION_COOKIE)
    form = browser.get("/login").text
    login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form)
    next_url = re.search(r'name="next" value="([^"]*)"', form)
    assert login_csrf is not None
    assert next_url is not None
    # The cookie is `Secure`: the test client, on plain HTTP, would not send it back by itself.
    browser.cookies.set(LOGIN_CSRF_COOKIE, login_csrf[1])

    signed_in = browser.post(
        "/login",
        data={"username": "marie", "password": PASSWORD, "login_csrf": login_csrf[1], "next": next_url[1]},
    )
    assert signed_in.status_code == 303
    session = re.search(f"{SESSION_COOKIE}=([^;]+)", signed_in.headers["set-cookie"])
    assert session is not None
    browser.cookies.set(SESSION_COOKIE, session[1])
    landing = browser.get(signed_in.headers["location"], follow_redirects=True)

    assert landing.status_code == 200, landing.url


def test_switching_language_without_a_page_of_this_site_to_return_to_leads_home_not_to_a_refusal() -> None:
    browser, _ = console_as(not_found, Role.OPERATIONS)

    for target in (None, "https://evil.example/"):
        switched = browser.get("/language/en", params={} if target is None else {"next": target})
        assert switched.status_code == 303
        assert switched.headers["location"] == "/"
