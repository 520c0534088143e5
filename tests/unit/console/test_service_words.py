"""What the services report, said on the console's pages in the page's language."""

from typing import Any

import httpx
import pytest

from services.console.domain.roles import Role
from tests.unit.console.console_app import console_as, not_found
from tests.unit.console.test_console_resilience import PROFILE, patron_platform


def operations_platform(subscriptions: list[dict[str, Any]]) -> Any:
    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/subscriptions":
            return httpx.Response(200, json={"items": subscriptions})
        if path in ("/v1/dead-letters", "/v1/deliveries"):
            return httpx.Response(200, json={"items": []})
        if path in ("/readyz", "/metrics"):
            return httpx.Response(200, text="")
        return not_found(request)

    return platform


def disabled_subscription(reason: str | None, code: str | None = None) -> dict[str, Any]:
    """A subscription as notify lists it; `disabled_reason_code` left out as notify left it out before it gave one."""
    listed = {
        "subscription_id": "sub_1",
        "url": "https://crm.example/hook",
        "enabled": False,
        "disabled_reason": reason,
    }
    return listed if code is None else listed | {"disabled_reason_code": code}


@pytest.mark.parametrize(
    ("reason", "code", "french", "english"),
    [
        (
            "disabled by an administrator",
            "disabled_by_administrator",
            "Désactivé (par un administrateur)",
            "Disabled (by an administrator)",
        ),
        (
            "410 Gone: the receiver retired this endpoint: Gone",
            "receiver_gone",
            "Désactivé (410 Gone : la destination a retiré cette adresse)",
            "Disabled (410 Gone: the target retired this endpoint)",
        ),
    ],
    ids=["by-an-administrator", "receiver-gone"],
)
def test_why_notify_disabled_a_subscription_is_said_in_the_page_language(
    reason: str, code: str, french: str, english: str
) -> None:
    platform = operations_platform([disabled_subscription(reason, code)])
    in_french, _ = console_as(platform, Role.OPERATIONS, language="fr")
    in_english, _ = console_as(platform, Role.OPERATIONS, language="en")

    french_page, english_page = in_french.get("/operations"), in_english.get("/operations")

    assert french_page.status_code == english_page.status_code == 200, french_page.text[-300:]
    assert french in french_page.text
    assert reason not in french_page.text
    assert english in english_page.text


@pytest.mark.parametrize(
    "code", [None, "a_reason_newer_than_the_console"], ids=["stored-before-codes", "code-unknown-to-the-console"]
)
def test_a_disabled_reason_without_a_code_the_console_knows_is_shown_as_notify_wrote_it(code: str | None) -> None:
    browser, _ = console_as(operations_platform([disabled_subscription("410 Gone", code)]), Role.OPERATIONS)

    answer = browser.get("/operations")

    assert answer.status_code == 200, answer.text[-300:]
    assert 'Désactivé (<span translate="no">410 Gone</span>)' in answer.text


@pytest.mark.parametrize(
    ("language", "month", "season"),
    [("fr", "(pour mars 2026)", "(pour Saison 2026-2027)"), ("en", "(for March 2026)", "(for Saison 2026-2027)")],
)
def test_a_fired_trigger_s_period_is_said_in_the_page_language_and_a_season_as_it_is(
    language: str, month: str, season: str
) -> None:
    profile = PROFILE | {"triggers_fired": ["monthly_digest:per_1:2026-03", "season_welcome:per_1:Saison 2026-2027"]}
    browser, _ = console_as(patron_platform([], profile=profile), Role.VIEWER, language=language)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-300:]
    assert month in answer.text
    assert season in answer.text
    assert "2026-03" not in answer.text


TICKET_LINE = {
    "season": "2026-2027",
    "production_id": "prod_1",
    "title": {"fr": "Les Belles-sœurs", "en": None},
    "performance_id": "perf_1",
    "starts_at": "2026-10-17T20:00:00-04:00",
    "venue": "Salle principale",
    "tickets": 1,
    "spend": "45.00",
    "attended": True,
}


@pytest.mark.parametrize(
    ("language", "summary", "season"),
    [
        ("fr", "1\u202f234 billets · 45,00\u00a0$ · 1 représentation vue · 0 absence", "· 1 billet"),
        ("en", "1,234 tickets · $45.00 · 1 performance attended · 0 no-shows", "· 1 ticket"),
    ],
)
def test_a_patron_s_ticket_counts_are_said_in_singular_or_plural_with_numbers_as_each_language_writes_them(
    language: str, summary: str, season: str
) -> None:
    counts = {"tickets_bought": 1234, "ticket_spend": "45.00", "performances_attended": 1, "no_shows": 0}
    profile = PROFILE | {"fields": PROFILE["fields"] | counts, "tickets": [TICKET_LINE]}
    browser, _ = console_as(patron_platform([], profile=profile), Role.VIEWER, language=language)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-300:]
    assert summary in answer.text
    assert season in answer.text
    assert "(s)" not in answer.text


@pytest.mark.parametrize(
    ("language", "found", "said"),
    [("fr", 1, "1 résultat<"), ("fr", 2, "2 résultats"), ("en", 1, "1 result<"), ("en", 2, "2 results")],
)
def test_the_number_of_patrons_found_is_said_in_singular_or_plural(language: str, found: int, said: str) -> None:
    found_one: dict[str, Any] = {"first_name": "Élise", "last_name": "Gagnon", "emails": [], "phones": [], "city": None}
    items = [found_one | {"person_id": f"per_{n}", "lifecycle_stage": None} for n in range(found)]

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/profiles/search":
            return httpx.Response(200, json={"items": items, "truncated": False})
        return not_found(request)

    browser, _ = console_as(platform, Role.VIEWER, language=language)

    answer = browser.get("/patrons?q=gagnon")

    assert answer.status_code == 200, answer.text[-300:]
    assert said in answer.text
