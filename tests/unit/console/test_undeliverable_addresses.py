"""Email addresses that bounced hard or were cleaned, as staff see them: still listed, marked, and never the answer
to "may we email this person today?"."""

import re

import httpx
import pytest

from services.console.domain.pages import email_today
from services.console.domain.roles import Role
from tests.unit.console.console_app import console_as
from tests.unit.console.test_console_resilience import PROFILE, patron_platform

CONSENTED = {
    "consent.marketing_email.status": "granted",
    "consent.marketing_email.basis": "express",
    "consent.marketing_email.captured_at": "2026-09-20T15:00:00+00:00",
    "consent.marketing_email.allowed": True,
}
TWO_ADDRESSES = {"emails": ["morte@example.org", "elise@example.org"], "undeliverable_emails": ["morte@example.org"]}


def test_email_is_allowed_today_while_one_address_is_deliverable() -> None:
    answer = email_today(CONSENTED | TWO_ADDRESSES)

    assert (answer.allowed, answer.reason) == (True, "contact.express")


def test_email_is_refused_today_when_every_address_known_is_undeliverable() -> None:
    answer = email_today(CONSENTED | TWO_ADDRESSES | {"undeliverable_emails": TWO_ADDRESSES["emails"]})

    assert (answer.allowed, answer.reason) == (False, "contact.no_deliverable_email")


def test_a_profile_from_before_undeliverable_addresses_were_named_answers_as_before() -> None:
    assert email_today(CONSENTED | {"emails": ["elise@example.org"]}).allowed


@pytest.mark.parametrize(
    ("language", "mark", "answer"),
    [
        ("fr", "non livrable", "est livrable (rebond définitif ou adresse nettoyée)"),
        ("en", "undeliverable", "no email address known can be delivered to"),
    ],
    ids=["fr", "en"],
)
def test_a_patron_s_page_lists_every_address_and_marks_those_undeliverable(
    language: str, mark: str, answer: str
) -> None:
    one_dead = PROFILE["fields"] | CONSENTED | TWO_ADDRESSES
    all_dead = one_dead | {"undeliverable_emails": TWO_ADDRESSES["emails"]}

    def page_of(fields: dict[str, object]) -> str:
        read = patron_platform([])

        def platform(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/profiles/per_1":
                return httpx.Response(200, json=PROFILE | {"fields": fields})
            found: httpx.Response = read(request)
            return found

        browser, _ = console_as(platform, Role.VIEWER, language=language)
        page = browser.get("/patrons/per_1")
        assert page.status_code == 200, page.text[-500:]
        text: str = page.text
        return text

    shown = page_of(one_dead)
    contact = shown[shown.index('id="h-contact"') : shown.index('id="h-sources"')]

    assert re.search(rf"morte@example\.org</span> <span class=\"badge\">{mark}</span>", contact)
    assert contact.count(mark) == 1
    assert answer in page_of(all_dead)


@pytest.mark.parametrize(("language", "mark"), [("fr", "non livrable"), ("en", "undeliverable")], ids=["fr", "en"])
def test_search_results_mark_the_undeliverable_addresses(language: str, mark: str) -> None:
    item = {
        "person_id": "per_1",
        "first_name": "Élise",
        "last_name": "Gagnon",
        **TWO_ADDRESSES,
        "phones": [],
        "city": None,
        "lifecycle_stage": None,
        "last_event_at": None,
        "score": 1.0,
        "matched_by": "name",
    }

    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"kind": "name", "items": [item], "truncated": False})

    browser, _ = console_as(platform, Role.VIEWER, language=language)

    page = browser.get("/patrons", params={"q": "Élise Gagnon"}).text

    assert re.search(rf"morte@example\.org</span> <span class=\"badge\">{mark}</span>", page)
    assert page.count(f'<span class="badge">{mark}</span>') == 1
