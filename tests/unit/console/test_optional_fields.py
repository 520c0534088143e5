"""A service's answer without a field that is optional, or with it null: the page shows what it has, without it."""

from typing import Any

import httpx
import pytest

from services.console.domain.roles import Role
from tests.unit.console.console_app import PERSON, console_as, not_found
from tests.unit.console.test_console_resilience import PROFILE, REVIEW_ITEM, patron_platform

TICKET_LINE: dict[str, Any] = {
    "season": "2026-2027",
    "production_id": "prod_1",
    "title": {"fr": "Les Belles-sœurs", "en": None},
    "performance_id": "perf_1",
    "starts_at": "2026-10-17T20:00:00-04:00",
    "venue": "Salle principale",
    "tickets": 2,
    "spend": "90.00",
    "attended": True,
}
MERGE: dict[str, Any] = {
    "merge_id": "mrg_1",
    "survivor_person_id": "per_1",
    "merged_person_ids": ["per_2"],
    "reason": None,
    "evidence": [{"identifier_type": "email", "value_hash": None}],
    "decided_by": "rule",
    "merged_at": "2026-10-01T12:00:00+00:00",
    "undone_at": None,
    "undone_by": None,
}
DELIVERY: dict[str, Any] = {
    "delivery_id": "dlv_1",
    "type": "parterre.trigger.fired.v1",
    "status": "succeeded",
    "attempts": 1,
    "created_at": "2026-10-01T12:00:00+00:00",
}
FACT: dict[str, Any] = {
    "type": "parterre.email.opened.v1",
    "time": "2026-10-02T12:00:00+00:00",
    "source": "/orgs/theatre-demo/mailchimp",
}


def without(answer: dict[str, Any], name: str, how: str) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != name} if how == "missing" else answer | {name: None}


def review_platform(item: dict[str, Any], profile: dict[str, Any] = PROFILE) -> Any:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/review":
            return httpx.Response(200, json={"items": [item]})
        if request.url.path.startswith("/v1/profiles/"):
            return httpx.Response(200, json=profile)
        return not_found(request)

    return platform


@pytest.mark.parametrize("how", ["missing", "null"])
def test_a_review_item_without_a_probability_is_shown_without_one(how: str) -> None:
    browser, _ = console_as(review_platform(without(REVIEW_ITEM, "probability", how)), Role.REVIEWER)

    answer = browser.get("/review")

    assert answer.status_code == 200, answer.text[-500:]
    assert "Peut-être la même personne" in answer.text
    assert "Probabilité" not in answer.text
    assert 'action="/review/rev_1"' in answer.text


def test_a_review_item_with_a_probability_shows_it() -> None:
    browser, _ = console_as(review_platform(REVIEW_ITEM), Role.REVIEWER)

    answer = browser.get("/review")

    assert "Probabilité d'être la même personne : 85,0 %" in answer.text.replace("&#39;", "'")


@pytest.mark.parametrize("how", ["missing", "null"])
def test_a_review_item_without_agreements_compares_the_fields_as_unknown(how: str) -> None:
    browser, _ = console_as(review_platform(without(REVIEW_ITEM, "agreements", how)), Role.REVIEWER)

    answer = browser.get("/review")

    assert answer.status_code == 200, answer.text[-500:]
    assert "Élise" in answer.text


def test_a_review_whose_profiles_came_without_fields_shows_dashes() -> None:
    browser, _ = console_as(review_platform(REVIEW_ITEM, PROFILE | {"fields": None}), Role.REVIEWER)

    answer = browser.get("/review")

    assert answer.status_code == 200, answer.text[-500:]
    assert 'action="/review/rev_1"' in answer.text


def _patron_platform(
    *, profile: dict[str, Any], person: dict[str, Any] = PERSON, delivery: dict[str, Any] = DELIVERY
) -> Any:
    """per_1's page with one fact on their timeline and one delivery made for them."""
    return patron_platform([{"number": 1, "event": FACT}], profile=profile, person=person, deliveries=[delivery])


@pytest.mark.parametrize("how", ["missing", "null"])
@pytest.mark.parametrize("name", ["venue", "spend", "title", "attended"])
def test_a_ticket_line_without_an_optional_field_is_listed_without_it(name: str, how: str) -> None:
    profile = PROFILE | {"tickets": [without(TICKET_LINE, name, how)]}
    browser, _ = console_as(_patron_platform(profile=profile), Role.VIEWER)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-500:]
    assert "2026-2027" in answer.text


@pytest.mark.parametrize("how", ["missing", "null"])
@pytest.mark.parametrize("name", ["segments", "triggers_fired", "tickets", "fields"])
def test_a_profile_without_an_optional_part_shows_the_patron_without_it(name: str, how: str) -> None:
    browser, _ = console_as(_patron_platform(profile=without(PROFILE, name, how)), Role.VIEWER)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-500:]
    assert "per_1" in answer.text


@pytest.mark.parametrize(
    "person",
    [
        PERSON | {"household": None},
        PERSON | {"household": {"household_id": None, "members": None}},
        PERSON | {"merges": [without(MERGE, "evidence", "missing")]},
        PERSON | {"merges": [without(MERGE, "evidence", "null")]},
        PERSON | {"merges": None},
        PERSON | {"identifiers": None},
    ],
    ids=["household-null", "members-null", "evidence-missing", "evidence-null", "merges-null", "identifiers-null"],
)
def test_a_person_without_an_optional_part_shows_the_patron_without_it(person: dict[str, Any]) -> None:
    browser, _ = console_as(_patron_platform(profile=PROFILE, person=person), Role.VIEWER)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-500:]
    assert "Élise" in answer.text


@pytest.mark.parametrize("how", ["missing", "null"])
@pytest.mark.parametrize("name", ["attempts", "created_at"])
def test_a_delivery_without_an_optional_field_is_listed_without_it(name: str, how: str) -> None:
    platform = _patron_platform(profile=PROFILE, delivery=without(DELIVERY, name, how))
    browser, _ = console_as(platform, Role.VIEWER, Role.MARKETING)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-500:]
    assert "Élise" in answer.text


def test_a_profile_giving_only_some_of_its_fields_shows_the_others_as_dashes() -> None:
    # A profile service older or newer than the console may not give every field the page shows.
    profile = PROFILE | {"fields": {"first_name": "Élise", "last_name": "Gagnon"}}
    browser, _ = console_as(_patron_platform(profile=profile), Role.VIEWER)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-500:]
    assert "Élise Gagnon" in answer.text
