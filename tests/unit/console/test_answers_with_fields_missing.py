"""Every page read from services' answers that lack a field: an optional one (a service older or newer than the
console) leaves its place empty, in the page's language; a required one (an id a link or form needs, a figure a
chart is drawn from) makes the answer malformed, which the page says naming the service, never a server error."""

import copy
import functools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.console.domain.roles import Role
from tests.unit.console.console_app import PERSON, console_as, not_found
from tests.unit.console.test_console_resilience import PROFILE
from tests.unit.console.test_optional_fields import TICKET_LINE

SEARCH: dict[str, Any] = {
    "kind": "name",
    "truncated": False,
    "items": [
        {
            "person_id": "per_1",
            "first_name": "Élise",
            "last_name": "Gagnon",
            "emails": ["elise@example.ca"],
            "undeliverable_emails": [],
            "phones": ["+15145550199"],
            "city": "Montréal",
            "lifecycle_stage": "active",
            "last_event_at": "2026-10-01T12:00:00+00:00",
            "score": 1.0,
            "matched_by": "name",
        }
    ],
}
MERGE: dict[str, Any] = {
    "merge_id": "mrg_1",
    "survivor_person_id": "per_1",
    "merged_person_ids": ["per_2"],
    "reason": "Même courriel / Same email",
    "evidence": [{"identifier_type": "email", "value_hash": "h1"}],
    "decided_by": "rule",
    "merged_at": "2026-10-01T12:00:00+00:00",
    "undone_at": None,
    "undone_by": None,
}
FACT: dict[str, Any] = {
    "id": "evt_1",
    "type": "parterre.email.opened.v1",
    "time": "2026-10-02T12:00:00+00:00",
    "source": "/orgs/theatre-demo/mailchimp",
    "specversion": "1.0",
}
DELIVERY: dict[str, Any] = {
    "delivery_id": "dlv_1",
    "subscription_id": "sub_1",
    "type": "parterre.trigger.fired.v1",
    "person_id": "per_1",
    "status": "dead",
    "attempts": 3,
    "last_status_code": 500,
    "last_error": "HTTP 500",
    "replays": 0,
    "created_at": "2026-10-01T12:00:00+00:00",
}
SEGMENT: dict[str, Any] = {
    "name": "donors",
    "title": {"fr": "Donateurs", "en": "Donors"},
    "description": {"fr": "Ont donné", "en": "Gave"},
    "members": 3,
    "trend": [{"date": "2026-10-01", "members": 1}, {"date": "2026-10-02", "members": 3}],
    "change_7d": 2,
}
MEMBER: dict[str, Any] = {
    "person_id": "per_1",
    "first_name": "Élise",
    "last_name": "Gagnon",
    "email": "elise@example.ca",
    "phone": None,
    "preferred_language": "fr",
    "consent.marketing_email.allowed": True,
    "consent.sms.allowed": False,
}
OVERVIEW: dict[str, Any] = {
    "computed_at": "2026-10-01T12:00:00+00:00",
    "current_season": "2026-2027",
    "totals": {"patrons": 5, "patrons_with_seasons": 4},
    "seasons": [{"season": "2026-2027", "new_patrons": 3, "returning_patrons": 1}],
    "lifecycle_stages": [{"stage": "active", "patrons": 3}],
    "top_returning_productions": [
        {
            "production_id": "prod_1",
            "title": {"fr": "Les Belles-sœurs", "en": None},
            "returning_patrons": 1,
            "patrons": 3,
        }
    ],
    "subscription_conversion": [{"season": "2026-2027", "single_ticket_buyers": 4, "converted": 1, "rate": 0.25}],
}
DEAD_LETTER: dict[str, Any] = {
    "id": "parterre.identity.dlq:0:5",
    "group": "parterre-identity",
    "reason": "ValueError: bad",
    "error_type": "ValueError",
    "attempts": 3,
    "dead_lettered_at": "2026-11-01T12:00:00+00:00",
    "event_type": "parterre.ticket.purchased.v1",
    "event_id": "evt_9",
    "preview": '{"id": "evt_9"}',
    "replays": 0,
}
SUBSCRIPTION: dict[str, Any] = {
    "subscription_id": "sub_1",
    "kind": "webhook",
    "url": "https://crm.example/hook",
    "enabled": False,
    "disabled_reason": "disabled by an administrator",
    "disabled_reason_code": "disabled_by_administrator",
}

# Each service's answers, as the pages below read them (the services' own shapes, as in their APIs).
ANSWERS: dict[str, Any] = {
    "search": SEARCH,
    "profile": PROFILE | {"segments": ["donors"], "triggers_fired": ["welcome:per_1:once"], "tickets": [TICKET_LINE]},
    "person": PERSON
    | {
        "identifiers": [{"type": "external_id", "source": "billetterie", "value": "C-1"}],
        "household": {"household_id": "hh_1", "members": ["per_1", "per_3"]},
        "merges": [MERGE],
    },
    "timeline": {"person_id": "per_1", "items": [{"number": 1, "event": FACT}], "next_cursor": None},
    "definitions": {
        "segments": [{"name": "donors", "title": {"fr": "Donateurs", "en": "Donors"}}],
        "triggers": [{"name": "welcome", "title": {"fr": "Bienvenue", "en": "Welcome"}, "period": "once"}],
    },
    "deliveries": {"items": [DELIVERY]},
    "review": {
        "items": [
            {
                "review_id": "rev_1",
                "person_id": "per_1",
                "candidate_person_id": "per_2",
                "probability": 0.85,
                "agreements": {"first_name": "exact"},
                "status": "pending",
            }
        ],
        "next_cursor": None,
    },
    "segments": {"items": [SEGMENT]},
    "members": {"segment": "donors", "items": [MEMBER], "next_cursor": None},
    "overview": OVERVIEW,
    "dead_letters": {"items": [DEAD_LETTER]},
    "subscriptions": {"items": [SUBSCRIPTION]},
}


def answering(answers: dict[str, Any]) -> Any:
    """The services giving `answers` (ANSWERS with some changed), by the route each is read from."""

    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        routes = {
            "/v1/profiles/search": "search",
            "/v1/profiles/per_1/timeline": "timeline",
            "/v1/profiles/per_1": "profile",
            "/v1/persons/per_1": "person",
            "/v1/definitions": "definitions",
            "/v1/deliveries": "deliveries",
            "/v1/review": "review",
            "/v1/segments": "segments",
            "/v1/segments/donors/members": "members",
            "/v1/overview": "overview",
            "/v1/dead-letters": "dead_letters",
            "/v1/subscriptions": "subscriptions",
        }
        if path in ("/readyz", "/metrics"):
            return httpx.Response(200, text="")
        if path in routes:
            return httpx.Response(200, json=answers[routes[path]])
        return not_found(request)

    return platform


Field = tuple[str, tuple[str | int, ...]]


def changed(how: str, *fields: Field) -> dict[str, Any]:
    """ANSWERS with each field (an answer, then the path to the field in it) left out (`missing`) or given as null;
    a field inside one already changed is left as it is."""
    answers = copy.deepcopy(ANSWERS)
    for answer, path in fields:
        holder: Any = answers[answer]
        for step in path[:-1]:
            # Inside a field already left out or null: nothing more to change.
            holder = holder.get(step) if isinstance(holder, dict) else None if holder is None else holder[step]
        if isinstance(holder, dict) and path[-1] in holder:
            if how == "missing":
                del holder[path[-1]]
            else:
                holder[path[-1]] = None
    return answers


# The pages each answer is read on, and words each shows in French and in English, whatever field is missing.
PAGES: dict[str, tuple[tuple[str, tuple[str, str]], ...]] = {
    "search": (("/patrons?q=elise", ("1 résultat", "1 result")),),
    "profile": (("/patrons/per_1", ("Chronologie", "Timeline")),),
    "person": (("/patrons/per_1", ("Chronologie", "Timeline")),),
    "timeline": (("/patrons/per_1", ("Chronologie", "Timeline")),),
    "definitions": (("/patrons/per_1", ("Chronologie", "Timeline")),),
    "deliveries": (("/patrons/per_1", ("Envois", "Deliveries")), ("/operations", ("Envois abandonnés", "given up"))),
    "review": (("/review", ("Doublons à vérifier", "Duplicates to review")),),
    "segments": (("/segments", ("Tendance", "Trend")), ("/segments/donors", ("Membres du segment", "Members of"))),
    "members": (("/segments/donors", ("Membres du segment", "Members of the segment")),),
    "overview": (("/overview", ("Conversion en abonnés", "Conversion to subscriptions")),),
    "dead_letters": (("/operations", ("Messages mis de côté", "Dead letters")),),
    "subscriptions": (("/operations", ("Abonnements aux déclencheurs", "Trigger subscriptions")),),
}
# The service each answer comes from.
SERVICE = {"person": "identity", "review": "identity", "deliveries": "notify", "subscriptions": "notify"}

OPTIONAL = [
    *(("search", ("items", 0, name)) for name in SEARCH["items"][0] if name != "person_id"),
    ("profile", ("tickets", 0, "starts_at")),
    ("person", ("merges", 0, "decided_by")),
    ("person", ("merges", 0, "merged_at")),
    ("person", ("merges", 0, "evidence", 0, "identifier_type")),
    ("timeline", ("items", 0, "event", "time")),
    ("timeline", ("items", 0, "event", "source")),
    *(("deliveries", ("items", 0, name)) for name in DELIVERY if name != "delivery_id"),
    *(("segments", ("items", 0, name)) for name in ("title", "description", "members", "trend", "change_7d")),
    *(("members", ("items", 0, name)) for name in MEMBER if name != "person_id"),
    *(("overview", (name,)) for name in OVERVIEW),
    ("overview", ("totals", "patrons")),
    ("overview", ("top_returning_productions", 0, "title")),
    *(("dead_letters", ("items", 0, name)) for name in DEAD_LETTER if name != "id"),
    *(("subscriptions", ("items", 0, name)) for name in SUBSCRIPTION if name not in ("subscription_id", "enabled")),
]


@functools.cache
def _complete(page: str, language: str) -> str:
    """`page` as read from every answer complete."""
    browser, _ = console_as(answering(ANSWERS), Role.ADMIN, language=language)
    shown = browser.get(page)
    assert shown.status_code == 200, shown.text[-800:]
    return str(shown.text)


def _ids(fields: list[Field]) -> list[str]:
    return [f"{answer}.{'.'.join(map(str, path))}" for answer, path in fields]


def _shown_without(fields: list[Field], how: str, pages: list[tuple[str, tuple[str, str]]], language: str) -> None:
    browser, _ = console_as(answering(changed(how, *fields)), Role.ADMIN, language=language)
    for page, words in pages:
        shown = browser.get(page)

        assert shown.status_code == 200, (page, shown.text[-800:])
        assert words[0 if language == "fr" else 1] in shown.text, page
        assert 'role="alert"' not in shown.text, page
        # Nothing the service left out is shown as Python writes nothing ("None" is also English for no consent).
        assert shown.text.count("None") <= _complete(page, language).count("None"), page


@pytest.mark.parametrize("how", ["missing", "null"])
@pytest.mark.parametrize(("answer", "path"), OPTIONAL, ids=_ids(OPTIONAL))
def test_a_page_whose_answer_lacks_an_optional_field_is_shown_without_it(
    answer: str, path: tuple[str | int, ...], how: str
) -> None:
    _shown_without([(answer, path)], how, list(PAGES[answer]), "fr")


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("how", ["missing", "null"])
def test_every_page_is_shown_in_its_language_from_answers_lacking_every_optional_field(how: str, language: str) -> None:
    pages = list(dict.fromkeys(shown for answer in PAGES.values() for shown in answer))
    _shown_without(OPTIONAL, how, pages, language)


@pytest.mark.parametrize("page", sorted({page for pages in PAGES.values() for page, _ in pages}))
def test_every_page_read_from_complete_answers_shows_no_python_none(page: str) -> None:
    shown = _complete(page, "fr")

    assert 'role="alert"' not in shown
    assert "None" not in shown


REQUIRED = [
    ("search", ("items",)),
    ("search", ("items", 0, "person_id")),
    *(("profile", ("tickets", 0, name)) for name in ("season", "production_id", "tickets")),
    *(("person", ("merges", 0, name)) for name in ("merge_id", "survivor_person_id", "merged_person_ids")),
    ("person", ("identifiers", 0, "type")),
    ("timeline", ("items",)),
    ("timeline", ("items", 0, "event")),
    ("timeline", ("items", 0, "event", "type")),
    ("definitions", ("segments", 0, "name")),
    ("definitions", ("triggers", 0, "name")),
    ("deliveries", ("items",)),
    ("deliveries", ("items", 0, "delivery_id")),
    ("review", ("items",)),
    *(("review", ("items", 0, name)) for name in ("review_id", "person_id", "candidate_person_id")),
    ("segments", ("items",)),
    ("segments", ("items", 0, "name")),
    ("segments", ("items", 0, "trend", 0, "members")),
    ("members", ("items",)),
    ("members", ("items", 0, "person_id")),
    *(("overview", ("seasons", 0, name)) for name in OVERVIEW["seasons"][0]),
    *(("overview", ("lifecycle_stages", 0, name)) for name in OVERVIEW["lifecycle_stages"][0]),
    *(
        ("overview", ("top_returning_productions", 0, name))
        for name in ("production_id", "returning_patrons", "patrons")
    ),
    *(("overview", ("subscription_conversion", 0, name)) for name in OVERVIEW["subscription_conversion"][0]),
    ("dead_letters", ("items",)),
    ("dead_letters", ("items", 0, "id")),
    ("subscriptions", ("items",)),
    ("subscriptions", ("items", 0, "subscription_id")),
    ("subscriptions", ("items", 0, "enabled")),
]
SAID = {
    "fr": "Le service {service} a donné une réponse que la console ne peut pas lire",
    "en": "The {service} service gave an answer the console cannot read",
}


def _said_malformed(answer: str, path: tuple[str | int, ...], how: str, language: str) -> None:
    service = SERVICE.get(answer, "identity" if answer == "dead_letters" else "profile")
    browser, _ = console_as(answering(changed(how, (answer, path))), Role.ADMIN, language=language)
    for page, _words in PAGES[answer]:
        shown = browser.get(page)

        assert shown.status_code != 500, (page, shown.text[-800:])
        assert SAID[language].format(service=service) in shown.text, (page, shown.text[-1500:])


@pytest.mark.parametrize(("answer", "path"), REQUIRED, ids=_ids(REQUIRED))
def test_a_page_whose_answer_lacks_a_required_field_says_which_service_answered_badly(
    answer: str, path: tuple[str | int, ...]
) -> None:
    _said_malformed(answer, path, "missing", "fr")


@pytest.mark.parametrize(("answer", "path"), REQUIRED, ids=_ids(REQUIRED))
def test_a_page_whose_answer_gives_a_required_field_as_null_says_in_english_which_service_answered_badly(
    answer: str, path: tuple[str | int, ...]
) -> None:
    _said_malformed(answer, path, "null", "en")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_patron_page_whose_identity_answer_is_malformed_still_shows_what_profile_answered(language: str) -> None:
    browser, _ = console_as(
        answering(changed("missing", ("person", ("merges", 0, "merge_id")))), Role.VIEWER, language=language
    )

    shown = browser.get("/patrons/per_1")

    assert shown.status_code == 200
    assert SAID[language].format(service="identity") in shown.text
    assert "(merges.0.merge_id)" in shown.text
    assert "Élise Gagnon" in shown.text
    assert "Les Belles-sœurs" in shown.text


def not_json(request: httpx.Request) -> httpx.Response:
    """A proxy's page where a service's answer should be, with a success status."""
    return httpx.Response(
        200, text="<html><body>Welcome to nginx!</body></html>", headers={"content-type": "text/html"}
    )


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("page", ["/patrons?q=elise", "/patrons/per_1", "/segments", "/overview", "/review"])
def test_a_page_answered_with_something_other_than_json_says_which_service_answered_badly(
    page: str, language: str
) -> None:
    browser, _ = console_as(not_json, Role.VIEWER, Role.REVIEWER, language=language)

    shown = browser.get(page)

    assert shown.status_code != 500, shown.text[-800:]
    service = "identity" if page == "/review" else "profile"
    assert SAID[language].format(service=service) in shown.text
    assert "nginx" not in shown.text


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("format", ["json", "csv"])
@pytest.mark.parametrize("service", ["profile", "identity", "notify"])
def test_an_export_a_service_answered_with_something_unreadable_is_a_502_page_naming_it(
    service: str, format: str, language: str
) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/export"):
            if request.url.host == service:
                return not_json(request) if format == "json" else httpx.Response(200, json=["not", "an", "object"])
            # Identity's part is JSON in either format; profile's and notify's are in the format asked for.
            if format == "csv" and request.url.host != "identity":
                return httpx.Response(200, text="\ufeffpart,name,value\r\nperson,person_id,per_1\r\n")
            return httpx.Response(200, json={"person_id": "per_1", "merged_persons": []})
        answered: httpx.Response = answering(ANSWERS)(request)
        return answered

    browser, active = console_as(platform, Role.PRIVACY, language=language)

    answer = browser.post("/patrons/per_1/export", data={"csrf_token": active.session.csrf_token, "format": format})

    if format == "csv" and service != "identity":
        # A CSV part is passed on as its service wrote it: any text is a readable CSV.
        assert answer.status_code == 200, answer.text[-800:]
        return
    assert answer.status_code == 502, answer.text[-800:]
    assert SAID[language].format(service=service) in answer.text


# The pages whose every answer comes from one call: a failure of that call takes the place of the whole page.
WHOLE_PAGES = [
    ("search", "/patrons?q=elise"),
    ("review", "/review"),
    ("segments", "/segments"),
    ("members", "/segments/donors"),
    ("overview", "/overview"),
]
CRASHED = {"detail": {"code": "internal", "message": {"en": "It broke.", "fr": "Le service est tombé."}}}
REFUSED = {"detail": {"code": "query_too_short", "message": {"en": "Type more.", "fr": "Tapez-en plus."}}}


def _not_answering(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


FAILURES: list[tuple[str, Callable[[httpx.Request], httpx.Response], int]] = [
    ("not answering", _not_answering, 503),
    ("saying it is unavailable", lambda _: httpx.Response(503, json=CRASHED), 503),
    ("failing", lambda _: httpx.Response(500, json=CRASHED), 502),
    ("answering what the console cannot read", lambda _: httpx.Response(200, text="<html>ok</html>"), 502),
    ("refusing the request", lambda _: httpx.Response(422, json=REFUSED), 422),
    # What the browser's request did not cause is never told as its own: a token refused, a route missing.
    ("refusing the console's token", lambda _: httpx.Response(401, json=REFUSED), 502),
    ("refusing the console's method", lambda _: httpx.Response(405, json=REFUSED), 502),
    ("refusing the console's content type", lambda _: httpx.Response(415, json=REFUSED), 502),
    ("without the route", lambda _: httpx.Response(404, json=REFUSED), 502),
    ("asking to come back later", lambda _: httpx.Response(429, json=REFUSED), 503),
    ("timing out behind its proxy", lambda _: httpx.Response(504, text="Gateway Timeout"), 503),
]


@pytest.mark.parametrize(
    ("answer", "page", "failing", "status_code"),
    [
        pytest.param(answer, page, failing, status_code, id=f"{how}-{answer}")
        for answer, page in WHOLE_PAGES
        for how, failing, status_code in FAILURES
        # A segment's members answered 404 are an unknown segment's: the page of one (test_console_pages_http.py).
        if (answer, status_code, how) != ("members", 502, "without the route")
    ],
)
def test_a_page_a_service_s_failure_took_the_place_of_answers_with_the_failure_s_status_and_says_it(
    answer: str, page: str, failing: Callable[[httpx.Request], httpx.Response], status_code: int
) -> None:
    answered: Callable[[httpx.Request], httpx.Response] = answering(ANSWERS)
    route = {"members": "/v1/segments/donors/members", "search": "/v1/profiles/search"}.get(answer, f"/v1/{answer}")

    def platform(request: httpx.Request) -> httpx.Response:
        return failing(request) if request.url.path == route else answered(request)

    browser, _ = console_as(platform, Role.ADMIN)

    shown = browser.get(page)

    # A monitor counting the console's 200s and 500s would otherwise see a page of nothing but an alert as served,
    # and a service's crash as the console's own.
    assert shown.status_code == status_code, shown.text[-800:]
    assert 'class="error" role="alert"' in shown.text


def test_a_segment_s_members_read_without_its_title_are_a_page_served() -> None:
    answered: Callable[[httpx.Request], httpx.Response] = answering(ANSWERS)

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            return httpx.Response(500, json=CRASHED)
        return answered(request)

    browser, _ = console_as(platform, Role.VIEWER)

    shown = browser.get("/segments/donors")

    assert shown.status_code == 200, shown.text[-800:]
    assert "Le service est tombé." in shown.text
    assert "/patrons/per_1" in shown.text


def test_a_segment_page_whose_members_and_title_both_failed_answers_the_members_failure() -> None:
    answered: Callable[[httpx.Request], httpx.Response] = answering(ANSWERS)

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            return httpx.Response(403, json=REFUSED)
        if request.url.path == "/v1/segments/donors/members":
            return httpx.Response(503, json=CRASHED)
        return answered(request)

    browser, _ = console_as(platform, Role.VIEWER)

    assert browser.get("/segments/donors").status_code == 503
