"""Every table of every page names itself in a caption, in the page's language: a screen reader's list of tables
says what each holds."""

from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from services.console.domain.roles import Role
from tests.unit.console.console_app import PERSON, console_as, not_found
from tests.unit.console.test_console_resilience import PROFILE, REVIEW_ITEM
from tests.unit.console.test_optional_fields import DELIVERY, MERGE, TICKET_LINE

SEGMENT = {"name": "abonnes", "title": {"fr": "Abonnés", "en": "Subscribers"}, "description": None, "members": 1}
MEMBER = {
    "person_id": "per_1",
    "first_name": "Élise",
    "last_name": "Gagnon",
    "email": None,
    "preferred_language": "fr",
    "consent.marketing_email.allowed": True,
}
DEAD_LETTER = {
    "id": "parterre.identity.dlq:0:5",
    "reason": "bad event",
    "dead_lettered_at": "2026-11-01T12:00:00+00:00",
    "event_type": None,
    "preview": "not json",
    "replays": 0,
}
OVERVIEW = {
    "computed_at": "2026-11-01T00:00:00+00:00",
    "totals": {"patrons": 1},
    "current_season": "2026-2027",
    "seasons": [],
    "lifecycle_stages": [],
    "top_returning_productions": [],
    "subscription_conversion": [],
}
SEARCH_ITEM: dict[str, Any] = {
    "person_id": "per_1",
    "first_name": "Élise",
    "last_name": "Gagnon",
    "emails": [],
    "undeliverable_emails": [],
    "phones": [],
    "city": None,
    "lifecycle_stage": None,
}


def every_table(request: httpx.Request) -> httpx.Response:
    """The services answering so that every table of every page is drawn, each with at least one line."""
    answers: dict[str, Any] = {
        "/v1/profiles/search": {"items": [SEARCH_ITEM]},
        "/v1/profiles/per_1": PROFILE | {"tickets": [TICKET_LINE]},
        "/v1/profiles/per_1/timeline": {"items": [], "next_cursor": None},
        "/v1/profiles/per_2": PROFILE,
        "/v1/persons/per_1": PERSON | {"merges": [MERGE]},
        "/v1/definitions": {"segments": [], "triggers": []},
        "/v1/deliveries": {"items": [DELIVERY | {"last_error": "410 Gone", "last_status_code": 410}]},
        "/v1/review": {"items": [REVIEW_ITEM]},
        "/v1/segments": {"items": [SEGMENT]},
        "/v1/segments/abonnes/members": {"items": [MEMBER], "next_cursor": None},
        "/v1/subscriptions": {
            "items": [{"subscription_id": "sub_1", "url": "https://crm.example/hook", "enabled": True}]
        },
        "/v1/dead-letters": {"items": [DEAD_LETTER] if request.url.host == "identity" else []},
        "/v1/overview": OVERVIEW,
    }
    path = request.url.path
    if path in ("/readyz", "/metrics"):
        return httpx.Response(200, text="")
    return httpx.Response(200, json=answers[path]) if path in answers else not_found(request)


class _Tables(HTMLParser):
    """Each table's caption, as read: None for a table whose first element is not a caption."""

    def __init__(self) -> None:
        super().__init__()
        self.captions: list[str | None] = []
        self._opened_table = False
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._opened_table:
            self._opened_table = False
            self.captions.append("" if tag == "caption" else None)
            self._in_caption = tag == "caption"
        if tag == "table":
            self._opened_table = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._in_caption and self.captions[-1] is not None:
            self.captions[-1] += data


def captions_of(page: str) -> list[str | None]:
    tables = _Tables()
    tables.feed(page)
    return [None if caption is None else caption.strip() for caption in tables.captions]


@pytest.mark.parametrize(
    ("path", "tables"),
    [
        ("/patrons?q=elise", 1),
        # Consents, the season's tickets, deliveries and merges.
        ("/patrons/per_1", 4),
        ("/review", 1),
        ("/segments", 1),
        ("/segments/abonnes", 1),
        ("/overview", 4),
        # Readiness, lag, pipeline, dead letters, subscriptions and deliveries given up.
        ("/operations", 6),
    ],
)
def test_every_table_of_a_page_has_a_caption_in_each_language(path: str, tables: int) -> None:
    in_french, _ = console_as(every_table, Role.ADMIN, language="fr")
    in_english, _ = console_as(every_table, Role.ADMIN, language="en")

    french, english = captions_of(in_french.get(path).text), captions_of(in_english.get(path).text)

    assert len(french) == len(english) == tables
    assert all(french), french
    assert all(english), english
    # A caption said the same way in both languages is one that was not translated (or that names nothing).
    assert any(caption_fr != caption_en for caption_fr, caption_en in zip(french, english, strict=True))
