"""The console facing data the services may legitimately return, and staff mistyping: each page still serves
staff, and keeps what they typed."""

import html
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.console.domain.roles import Role
from services.profile.domain.profile import PROFILE_FIELD_NAMES
from tests.unit.console.console_app import PERSON, console_as, not_found

# The services as the console reaches them: an answer for each request.
Platform = Callable[[httpx.Request], httpx.Response]

PROFILE: dict[str, Any] = {
    "person_id": "per_1",
    "merged_into": None,
    "segments": [],
    # Every field a profile has, as profile answers: most of them empty.
    "fields": dict.fromkeys(PROFILE_FIELD_NAMES)
    | {"first_name": "Élise", "last_name": "Gagnon", "emails": [], "phones": []},
    "triggers_fired": [],
    "tickets": [],
}


def patron_platform(
    timeline: list[dict[str, Any]],
    *,
    reviews: list[dict[str, Any]] | None = None,
    profile: dict[str, Any] = PROFILE,
    person: dict[str, Any] = PERSON,
    deliveries: list[dict[str, Any]] | None = None,
) -> Any:
    """The services as per_1's page reads them: `timeline` answered as profile answers it (the facts received last
    first, `limit` a page, with `next_cursor` when earlier ones remain), `profile` and `person` as their services
    give them, the review queue holding `reviews`, and notify's `deliveries` made for per_1."""

    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/timeline"):
            limit = int(request.url.params.get("limit", 50))
            more = len(timeline) > limit
            page = {"items": timeline[:limit], "next_cursor": timeline[limit - 1]["number"] if more else None}
            return httpx.Response(200, json=page)
        if path == "/v1/review":
            return httpx.Response(200, json={"items": reviews or []})
        if path == "/v1/profiles/per_1":
            return httpx.Response(200, json=profile)
        if path == "/v1/persons/per_1":
            return httpx.Response(200, json=person)
        if path == "/v1/definitions":
            return httpx.Response(200, json={"segments": [], "triggers": []})
        if path == "/v1/deliveries" and deliveries is not None:
            return httpx.Response(200, json={"items": deliveries})
        return not_found(request)

    return platform


def test_a_patron_page_shows_an_event_dated_at_the_earliest_moment_ingest_accepts() -> None:
    # Ingest accepts `0001-01-01T00:00:00Z` (.NET's DateTime.MinValue, what an upstream system sends for "unset").
    opened = {"type": "parterre.email.opened.v1", "time": "0001-01-01T00:00:00Z", "source": "/orgs/o/mailchimp"}
    browser, _ = console_as(patron_platform([{"number": 1, "event": opened}]), Role.VIEWER)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-300:]
    assert "0001" in answer.text


def test_the_operations_page_lists_a_dead_letter_that_came_without_a_reason_header() -> None:
    # shared/dead_letters.py: `reason: str | None`, "never fails, whatever its bytes or headers".
    entry = {
        "id": "parterre.identity.dlq:0:5",
        "group": "parterre-identity",
        "reason": None,
        "error_type": None,
        "attempts": None,
        "dead_lettered_at": "2026-11-01T12:00:00+00:00",
        "event_type": None,
        "event_id": None,
        "preview": "not json",
        "replays": 0,
    }

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/dead-letters":
            return httpx.Response(200, json={"items": [entry] if request.url.host == "identity" else []})
        if request.url.path in ("/readyz", "/metrics"):
            return httpx.Response(200, text="")
        return not_found(request)

    browser, _ = console_as(platform, Role.OPERATIONS)

    answer = browser.get("/operations")

    assert answer.status_code == 200, answer.text[-300:]
    assert "not json" in answer.text


def test_an_erasure_refused_for_a_mistyped_word_keeps_the_reason_and_the_choice_typed() -> None:
    browser, active = console_as(patron_platform([]), Role.PRIVACY)

    answer = browser.post(
        "/patrons/per_1/erase",
        data={
            "csrf_token": active.session.csrf_token,
            "confirmation": "EFACER",
            "reason": "Demande reçue par courriel le 3 mars",
            "do_not_readd": "true",
        },
    )

    assert answer.status_code == 422
    assert "Demande reçue par courriel le 3 mars" in answer.text
    assert "checked" in answer.text


REVIEW_ITEM = {
    "review_id": "rev_1",
    "person_id": "per_1",
    "candidate_person_id": "per_2",
    "probability": 0.85,
    "agreements": {"first_name": "exact", "last_name": "exact"},
    "status": "pending",
}


def test_the_review_page_says_so_when_the_profiles_to_compare_could_not_be_read() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/review":
            return httpx.Response(200, json={"items": [REVIEW_ITEM]})
        detail = {"code": "unavailable", "message": {"en": "Profile is down.", "fr": "Le service profil est arrêté."}}
        return httpx.Response(503, json={"detail": detail})

    browser, _ = console_as(platform, Role.REVIEWER)

    answer = browser.get("/review")

    # Every field shows "—" while "Prénom: concorde (identique)": the reviewer must be told the data is missing.
    assert "Le service profil est arrêté." in answer.text


def test_the_review_page_of_a_person_without_a_profile_yet_reports_no_failure() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/review":
            return httpx.Response(200, json={"items": [REVIEW_ITEM]})
        return not_found(request)

    browser, _ = console_as(platform, Role.REVIEWER)

    answer = browser.get("/review")

    assert answer.status_code == 200
    assert 'role="alert"' not in answer.text


def numbered_timeline(facts: list[dict[str, Any]]) -> Any:
    """per_1's page over `facts`, received in their order."""
    return patron_platform([{"number": n, "event": fact} for n, fact in reversed(list(enumerate(facts, start=1)))])


def opens(count: int) -> list[dict[str, Any]]:
    """`count` newsletter opens of 2024, from a newsletter tool connected after the box office."""
    return [
        {
            "type": "parterre.email.opened.v1",
            "time": (datetime(2024, 1, 1, 12, tzinfo=UTC) + timedelta(hours=n)).isoformat(),
            "source": "/orgs/theatre-demo/mailchimp",
        }
        for n in range(count)
    ]


def test_a_patron_s_latest_fact_shows_even_when_older_history_was_received_after_it() -> None:
    bought = {
        "type": "parterre.ticket.purchased.v1",
        "time": "2026-11-20T19:00:00-05:00",
        "source": "/orgs/theatre-demo/boxoffice",
    }
    browser, _ = console_as(numbered_timeline([bought, *opens(30)]), Role.VIEWER)

    page = browser.get("/patrons/per_1").text
    timeline = page[page.index('id="h-timeline"') :]

    assert timeline.index("Achat de billets") < timeline.index("Courriel ouvert")
    assert "faits reçus plus tôt ne sont pas lus" not in timeline


def test_a_timeline_read_in_part_says_so() -> None:
    browser, _ = console_as(numbered_timeline(opens(250)), Role.VIEWER)

    page = browser.get("/patrons/per_1").text

    assert "Les plus récents parmi les 200 derniers faits reçus" in page


@pytest.mark.parametrize(
    ("language", "said"),
    [("fr", "Les 30 faits les plus récents sur 80."), ("en", "The latest 30 facts of 80.")],
)
def test_a_timeline_showing_the_latest_facts_only_says_of_how_many(language: str, said: str) -> None:
    browser, _ = console_as(numbered_timeline(opens(80)), Role.VIEWER, language=language)

    page = browser.get("/patrons/per_1").text

    assert page.count("<time datetime=") == 30
    assert said in html.unescape(_section(page, "h-timeline"))


@pytest.mark.parametrize(
    ("language", "said"),
    [("fr", "Les 30 faits les plus récents sur plus de 200."), ("en", "The latest 30 facts of more than 200.")],
)
def test_a_timeline_read_in_part_says_its_count_is_more_than_the_facts_read(language: str, said: str) -> None:
    browser, _ = console_as(numbered_timeline(opens(250)), Role.VIEWER, language=language)

    assert said in html.unescape(_section(browser.get("/patrons/per_1").text, "h-timeline"))


def test_a_timeline_showing_every_fact_says_no_count() -> None:
    browser, _ = console_as(numbered_timeline(opens(30)), Role.VIEWER, language="en")

    timeline = _section(browser.get("/patrons/per_1").text, "h-timeline")

    assert "The latest" not in timeline


def test_a_consent_fact_in_the_timeline_names_its_purpose_in_the_page_s_language() -> None:
    granted = {
        "type": "parterre.consent.granted.v1",
        "time": "2026-09-02T14:31:08-04:00",
        "source": "/orgs/theatre-demo/boxoffice",
        "data": {"purpose": "marketing_email", "basis": "express", "wording_version": "infolettre-fr-2026-03"},
    }
    for language, words in (("fr", "Courriel promotionnel"), ("en", "Marketing email")):
        browser, _ = console_as(numbered_timeline([granted]), Role.VIEWER, language=language)

        page = browser.get("/patrons/per_1").text
        timeline = page[page.index('id="h-timeline"') :]

        assert words in timeline
        assert "marketing_email" not in timeline


@pytest.mark.parametrize(
    ("zone", "shown"), [(None, "20 novembre 2026, 19 h 00"), ("Europe/Paris", "21 novembre 2026, 1 h 00")]
)
def test_times_are_shown_in_the_organisation_s_zone_as_profile_counts_its_days(
    monkeypatch: pytest.MonkeyPatch, zone: str | None, shown: str
) -> None:
    if zone is None:
        monkeypatch.delenv("PARTERRE_PROFILE_TIMEZONE", raising=False)
    else:
        monkeypatch.setenv("PARTERRE_PROFILE_TIMEZONE", zone)
    bought = {
        "type": "parterre.ticket.purchased.v1",
        "time": "2026-11-20T19:00:00-05:00",
        "source": "/orgs/theatre-demo/boxoffice",
    }
    browser, _ = console_as(numbered_timeline([bought]), Role.VIEWER)

    page = browser.get("/patrons/per_1").text

    assert shown in page[page.index('id="h-timeline"') :]


def test_codes_newer_than_the_console_are_shown_as_the_services_wrote_them_not_a_server_error() -> None:
    # Services may be upgraded before the console: a stage, status, basis or identifier kind it has no words for.
    fields = PROFILE["fields"] | {
        "lifecycle_stage": "champion",
        "newsletter_status": "archived",
        "preferred_language": "es",
        "sources": ["carte-fidelite"],
        "consent.marketing_email.status": "paused",
        "consent.marketing_email.basis": "contract",
    }
    merge = {
        "merge_id": "mrg_1",
        "survivor_person_id": "per_1",
        "merged_person_ids": ["per_2"],
        "evidence": [{"identifier_type": "loyalty_card"}],
        "decided_by": "importer",
        "merged_at": "2026-09-01T00:00:00+00:00",
    }
    person = PERSON | {
        "identifiers": [{"type": "loyalty_card", "source": "carte-fidelite", "value": "C-1"}],
        "merges": [merge],
    }
    patron_page = patron_platform([])

    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/profiles/per_1":
            return httpx.Response(200, json=PROFILE | {"fields": fields})
        if path == "/v1/persons/per_1":
            return httpx.Response(200, json=person)
        if path == "/v1/profiles/search":
            shown = ("first_name", "last_name", "emails", "phones", "city", "lifecycle_stage")
            item = {"person_id": "per_1", **{name: fields[name] for name in shown}, "last_event_at": None}
            item |= {"score": 1.0, "matched_by": "name"}
            return httpx.Response(200, json={"kind": "name", "items": [item], "truncated": False})
        answer: httpx.Response = patron_page(request)
        return answer

    browser, _ = console_as(platform, Role.VIEWER)

    page = browser.get("/patrons/per_1")
    assert page.status_code == 200, page.text[-500:]
    for code in ("champion", "archived", "paused", "contract", "loyalty_card", "importer"):
        assert code in page.text, code
    found = browser.get("/patrons", params={"q": "Élise Gagnon"})
    assert found.status_code == 200, found.text[-500:]
    assert "champion" in found.text


@pytest.mark.parametrize(
    ("status_code", "body"),
    [
        (500, "Internal Server Error"),
        (502, "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"),
    ],
    ids=["a service's crash", "a proxy's page"],
)
def test_a_service_failing_without_parterre_s_error_shape_is_reported_in_the_page_s_language(
    status_code: int, body: str
) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            return httpx.Response(status_code, text=body)
        answer: httpx.Response = patron_platform([])(request)
        return answer

    browser, _ = console_as(platform, Role.VIEWER)

    answer = browser.get("/patrons/per_1")

    assert answer.status_code == 200, answer.text[-300:]
    assert "Le service profile" in answer.text
    # Neither English words on a French page nor another server's markup shown as text.
    assert "Internal Server Error" not in answer.text
    assert "Bad Gateway" not in answer.text


def test_a_refusal_without_parterre_s_error_shape_does_not_ask_staff_to_try_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            return httpx.Response(413, text="<html><body>Request Entity Too Large</body></html>")
        answer: httpx.Response = patron_platform([])(request)
        return answer

    browser, _ = console_as(platform, Role.VIEWER)

    with caplog.at_level(logging.WARNING):
        answer = browser.get("/patrons/per_1")

    assert "Le service profile" in answer.text
    assert "réessayez" not in answer.text
    assert "consulter son journal" in answer.text
    # Whoever runs the platform finds which answer it was, without the body (a proxy's page may repeat the address).
    assert "profile answered 413" in caplog.text
    assert "Request Entity Too Large" not in caplog.text


def _erasure_answered(answer: httpx.Response | Exception) -> Any:
    """per_1's pages, and profile answering an erasure with `answer` (or not answering, for an exception)."""
    read = patron_platform([])

    def platform(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/persons/per_1/erase":
            if isinstance(answer, Exception):
                raise answer
            return answer
        response: httpx.Response = read(request)
        return response

    return platform


@pytest.mark.parametrize(
    ("answer", "status_code", "words"),
    [
        (
            httpx.Response(
                409,
                json={
                    "detail": {
                        "code": "erasure_running",
                        "message": {"en": "An erasure is running.", "fr": "Un effacement est en cours."},
                    }
                },
            ),
            409,
            "Un effacement est en cours.",
        ),
        (httpx.ConnectError("refused"), 503, "Le service profile ne répond pas"),
    ],
    ids=["refused", "not answering"],
)
def test_an_erasure_the_profile_service_refuses_or_fails_comes_back_filled_in_as_typed_to_retry_in_one_click(
    answer: httpx.Response | Exception, status_code: int, words: str
) -> None:
    browser, active = console_as(_erasure_answered(answer), Role.PRIVACY)

    failed = browser.post(
        "/patrons/per_1/erase",
        data={
            "csrf_token": active.session.csrf_token,
            "confirmation": "effacer",
            "reason": "Demande reçue par courriel le 3 mars",
            "do_not_readd": "true",
        },
    )

    assert failed.status_code == status_code
    assert words in failed.text
    assert 'action="/patrons/per_1/erase"' in failed.text
    assert ">Demande reçue par courriel le 3 mars</textarea>" in failed.text
    assert 'name="do_not_readd" value="true" checked' in failed.text
    assert 'name="confirmation" value="effacer"' in failed.text
    assert f'name="csrf_token" value="{active.session.csrf_token}"' in failed.text


@pytest.mark.parametrize(
    ("language", "words"),
    [("fr", "consentement exprès, sans date au dossier."), ("en", "express consent, no date on record.")],
    ids=["fr", "en"],
)
def test_a_patron_s_express_consent_with_no_date_on_file_is_said_without_a_date(language: str, words: str) -> None:
    consented = PROFILE["fields"] | {
        "emails": ["elise@example.org"],
        "consent.marketing_email.status": "granted",
        "consent.marketing_email.basis": "express",
        "consent.marketing_email.allowed": True,
    }
    read = patron_platform([])

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/profiles/per_1":
            return httpx.Response(200, json=PROFILE | {"fields": consented})
        answer: httpx.Response = read(request)
        return answer

    browser, _ = console_as(platform, Role.VIEWER, language=language)

    page = browser.get("/patrons/per_1")

    assert page.status_code == 200
    assert words in page.text
    assert "—." not in page.text


@pytest.mark.parametrize("status_code", [408, 425, 429])
def test_a_refusal_that_goes_away_by_itself_asks_staff_to_try_again(status_code: int) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            return httpx.Response(status_code, text="Too Many Requests")
        answer: httpx.Response = patron_platform([])(request)
        return answer

    browser, _ = console_as(platform, Role.VIEWER)

    answer = browser.get("/patrons/per_1")

    assert "réessayez dans un moment" in answer.text


def test_a_page_failing_unexpectedly_answers_500_in_both_languages_with_the_security_headers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/profiles/search":
            raise RuntimeError("password=hunter2 in /srv/parterre/settings.py")
        answer: httpx.Response = not_found(request)
        return answer

    browser, _ = console_as(platform, Role.VIEWER)

    with caplog.at_level(logging.ERROR):
        answer = browser.get("/patrons", params={"q": "abc"})

    assert answer.status_code == 500
    assert answer.text.splitlines() == [
        "Une erreur interne est survenue ; réessayez dans un moment.",
        "An internal error occurred; try again in a moment.",
    ]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    # Told to the operators, not to the browser.
    assert "hunter2" in caplog.text


def _section(page: str, heading: str) -> str:
    found = re.search(rf'<section[^>]*aria-labelledby="{heading}".*?</section>', page, re.S)
    assert found is not None, heading
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(found[0])))


def _failing(service: str, platform: Platform, *, path_end: str = "") -> Platform:
    """`platform`, but `service` (or only its paths ending in `path_end`) failing: refused or busy."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == service and request.url.path.endswith(path_end):
            if path_end:
                return httpx.Response(503, text="busy")
            raise httpx.ConnectError("refused")
        return platform(request)

    return answer


OPENED = {"number": 1, "event": {"type": "parterre.email.opened.v1", "time": "2026-03-01T12:00:00Z"}}


@pytest.mark.parametrize(
    ("language", "unknown"),
    [
        ("fr", "Inconnu pour l'instant : le service identity n'a pas pu répondre."),
        ("en", "Unknown for now: the identity service could not answer."),
    ],
)
def test_with_identity_down_a_patron_s_household_sources_and_merges_say_so_rather_than_none(
    language: str, unknown: str
) -> None:
    browser, _ = console_as(_failing("identity", patron_platform([OPENED])), Role.VIEWER, language=language)

    page = browser.get("/patrons/per_1").text

    merges, contact = _section(page, "h-merges"), _section(page, "h-contact")
    assert unknown in merges
    assert "Aucune fusion." not in merges
    assert "No merges." not in merges
    household = contact.split("Ménage" if language == "fr" else "Household", 1)[1]
    assert household.strip().startswith(unknown)
    assert unknown in _section(page, "h-sources")


def test_a_patron_s_timeline_that_could_not_be_read_says_so_rather_than_a_dash() -> None:
    platform = _failing("profile", patron_platform([OPENED]), path_end="/timeline")
    browser, _ = console_as(platform, Role.VIEWER, language="en")

    timeline = _section(browser.get("/patrons/per_1").text, "h-timeline")

    assert "Unknown for now: the profile service could not answer." in timeline
    assert "—" not in timeline


def test_a_patron_s_profile_that_could_not_be_read_is_said_unknown_not_absent() -> None:
    platform = _failing("profile", patron_platform([OPENED]), path_end="/per_1")
    browser, _ = console_as(platform, Role.VIEWER, language="en")

    page = browser.get("/patrons/per_1").text

    assert "Their profile is not here" not in page
    contact = _section(page, "h-contact")
    assert "Unknown for now: the profile service could not answer." in contact
    assert "Emails" not in contact


KAFKA_DOWN = {
    "detail": {
        "code": "kafka_unavailable",
        "message": {"en": "Kafka cannot be reached.", "fr": "Kafka est injoignable."},
    }
}
INGEST_METRICS = 'parterre_ingest_events_total{organisation="theatre-demo",outcome="accepted"} 7.0\n'


def _operations_platform(*, listings_fail: bool, notify_metrics: httpx.Response | None) -> Platform:
    """Every service ready, a subscription listed; the dead-letter and dead-delivery listings failing (Kafka out of
    reach) or empty; notify's /metrics answered `notify_metrics`, the others' readable."""

    def platform(request: httpx.Request) -> httpx.Response:
        path, host = request.url.path, request.url.host
        if path == "/readyz":
            return httpx.Response(200, text="ok")
        if path == "/metrics":
            if host == "notify" and notify_metrics is not None:
                return notify_metrics
            return httpx.Response(200, text=INGEST_METRICS if host == "ingest" else "")
        if path in ("/v1/dead-letters", "/v1/deliveries"):
            return httpx.Response(503, json=KAFKA_DOWN) if listings_fail else httpx.Response(200, json={"items": []})
        if path == "/v1/subscriptions":
            subscription = {"subscription_id": "sub_1", "enabled": True, "url": "https://crm.example/hook"}
            return httpx.Response(200, json={"items": [subscription]})
        return not_found(request)

    return platform


def test_dead_letters_and_deliveries_given_up_that_could_not_be_listed_are_said_unknown_not_none() -> None:
    browser, _ = console_as(_operations_platform(listings_fail=True, notify_metrics=None), Role.ADMIN, language="en")

    page = browser.get("/operations").text

    dead_letters, subscriptions = _section(page, "h-dead-letters"), _section(page, "h-subscriptions")
    for service in ("identity", "profile", "notify"):
        assert f"Unknown for now: the {service} service could not list them." in dead_letters
    assert "No dead letters." not in dead_letters
    assert "Unknown for now: the notify service could not list them." in subscriptions
    assert "No deliveries given up." not in subscriptions


def test_listings_that_answered_empty_still_say_there_are_none() -> None:
    browser, _ = console_as(_operations_platform(listings_fail=False, notify_metrics=None), Role.ADMIN, language="en")

    page = browser.get("/operations").text

    assert "No dead letters." in _section(page, "h-dead-letters")
    assert "No deliveries given up." in _section(page, "h-subscriptions")
    assert "Healthy" in _section(page, "h-subscriptions")


@pytest.mark.parametrize(
    "notify_metrics",
    [httpx.Response(503, text=""), httpx.Response(200, text="this is { not prometheus")],
    ids=["failing", "unreadable"],
)
def test_a_subscription_whose_metrics_could_not_be_read_is_unknown_not_healthy_at_zero(
    notify_metrics: httpx.Response,
) -> None:
    platform = _operations_platform(listings_fail=False, notify_metrics=notify_metrics)
    browser, _ = console_as(platform, Role.ADMIN, language="fr")

    subscriptions = _section(browser.get("/operations").text, "h-subscriptions")

    assert "En bonne santé" not in subscriptions
    assert "Inconnu" in subscriptions
    assert "0 s" not in subscriptions
    assert "Les mesures du service notify n'ont pas pu être lues" in subscriptions


def test_a_pipeline_stage_whose_service_s_metrics_could_not_be_read_is_unknown_not_zero() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/metrics" and request.url.host == "identity":
            return httpx.Response(503, text="")
        return _operations_platform(listings_fail=False, notify_metrics=None)(request)

    browser, _ = console_as(platform, Role.OPERATIONS, language="en")

    page = browser.get("/operations").text

    pipeline = _section(page, "h-pipeline")
    assert re.search(r"Identity resolution Unknown The identity service's metrics could not be read", pipeline)
    assert re.search(r"Intake 7 Accepted 7", pipeline)
    assert "The identity service's metrics could not be read" in _section(page, "h-lag")
