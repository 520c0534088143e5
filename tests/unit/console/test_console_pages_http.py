"""Console pages seen from HTTP, the platform's services answered in memory: what a page says of an unknown id, and
the order of a patron's timeline."""

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.console import pages
from services.console.domain.i18n import Language
from services.console.domain.roles import Role
from tests.unit.console.console_app import PERSON, console_as, not_found

LATER = {"type": "parterre.ticket.purchased.v1", "time": "2026-09-02T20:00:00-04:00", "source": "/orgs/o/boxoffice"}
EARLIER = {"type": "parterre.email.opened.v1", "time": "2026-09-02T23:00:00+00:00", "source": "/orgs/o/mailchimp"}


def test_the_erase_page_of_an_unknown_person_is_a_404_with_no_form_like_the_export_page() -> None:
    browser, _ = console_as(not_found, Role.PRIVACY)

    assert browser.get("/patrons/per_nobody/export").status_code == 404
    answer = browser.get("/patrons/per_nobody/erase")

    assert answer.status_code == 404
    assert "Aucune personne à cet identifiant" in answer.text
    assert 'name="confirmation"' not in answer.text


def test_the_page_of_an_unknown_segment_is_a_404_with_no_download() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            return httpx.Response(200, json={"items": []})
        return not_found(request)

    browser, _ = console_as(platform, Role.VIEWER)
    answer = browser.get("/segments/no-such-segment")

    assert answer.status_code == 404
    assert "export.csv" not in answer.text


def test_a_patron_s_timeline_is_ordered_by_moment_whatever_offset_each_event_was_written_with() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/timeline"):
            items = [{"number": 2, "event": LATER}, {"number": 1, "event": EARLIER}]
            return httpx.Response(200, json={"items": items})
        if path == "/v1/profiles/per_1":
            return httpx.Response(200, json={"person_id": "per_1", "fields": {}, "segments": [], "tickets": []})
        if path == "/v1/definitions":
            return httpx.Response(200, json={"segments": [], "triggers": []})
        return not_found(request)

    browser, active = console_as(platform, Role.VIEWER)
    api = browser.app.state.runtime.extras["console"].deps.api  # type: ignore[attr-defined]

    page = asyncio.run(pages.patron_page(api, active, "per_1", Language.FR))

    # 20:00 in Montréal is midnight in UTC, an hour after the email was opened.
    assert [item["event"]["time"] for item in page.timeline] == [LATER["time"], EARLIER["time"]]


def test_a_patron_s_pages_never_say_unknown_when_the_services_that_would_know_are_down() -> None:
    def down(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503, json={"detail": {"code": "unavailable", "message": {"en": "Down.", "fr": "Arrêté."}}}
        )

    browser, _ = console_as(down, Role.PRIVACY, Role.VIEWER)

    for path in ("/patrons/per_1", "/patrons/per_1/erase", "/patrons/per_1/export"):
        answer = browser.get(path)
        assert answer.status_code == 503, path
        assert "Aucune personne à cet identifiant" not in answer.text
        assert 'name="confirmation"' not in answer.text
        assert "Arrêté." in answer.text, path


def test_a_patron_page_says_once_that_the_profile_service_failed_though_it_asked_it_several_things() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            message = {"en": "Profile is failing.", "fr": "Le service profil est en panne."}
            return httpx.Response(500, json={"detail": {"code": "internal", "message": message}})
        if request.url.path == "/v1/persons/per_1":
            return httpx.Response(200, json=PERSON)
        return not_found(request)

    browser, _ = console_as(platform, Role.VIEWER)

    page = browser.get("/patrons/per_1")

    assert page.status_code == 200
    assert page.text.count("Le service profil est en panne.") == 1


def test_a_person_identity_knows_and_profile_not_yet_has_their_pages() -> None:
    person: dict[str, Any] = {
        "person_id": "per_1",
        "status": "active",
        "identifiers": [],
        "merges": [],
        "household": None,
    }

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/persons/per_1":
            return httpx.Response(200, json=person)
        if request.url.path == "/v1/definitions":
            return httpx.Response(200, json={"segments": [], "triggers": []})
        return not_found(request)

    browser, _ = console_as(platform, Role.PRIVACY, Role.VIEWER)

    for path in ("/patrons/per_1", "/patrons/per_1/erase", "/patrons/per_1/export"):
        answer = browser.get(path)
        assert answer.status_code == 200, (path, answer.text[-500:])
        assert "per_1" in answer.text
    # Nothing is said of tickets, consents or segments that profile has not told.
    page = browser.get("/patrons/per_1").text
    assert "Aucun billet." not in page
    assert "ses consentements, billets, achats, dons et segments" in page


def test_the_export_and_erase_pages_of_a_merged_person_are_the_survivor_s() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/profiles/per_bea":
            return httpx.Response(200, json={"person_id": "per_bea", "merged_into": "per_anne", "fields": {}})
        if request.url.path == "/v1/persons/per_bea":
            merged = PERSON | {"person_id": "per_bea", "status": "merged", "merged_into": "per_anne"}
            return httpx.Response(200, json=merged)
        return not_found(request)

    browser, _ = console_as(platform, Role.PRIVACY)

    for step in ("export", "erase"):
        answer = browser.get(f"/patrons/per_bea/{step}", follow_redirects=False)
        assert answer.status_code == 303, step
        assert answer.headers["location"] == f"/patrons/per_anne/{step}"


UNDONE_MERGE = {
    "merge_id": "mrg_1",
    "survivor_person_id": "per_anne",
    "merged_person_ids": ["per_bea"],
    "merged_at": "2026-03-01T12:00:00Z",
    "undone_at": "2026-03-02T12:00:00Z",
    "decided_by": "rule",
}


def _just_unmerged(identity_down: bool = False) -> Callable[[httpx.Request], httpx.Response]:
    """per_bea just split from per_anne again: identity says so, profile (behind through Kafka) still has her merged."""

    def platform(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.host == "identity" and identity_down:
            raise httpx.ConnectError("refused")
        if path in ("/v1/persons/per_bea", "/v1/persons/per_anne"):
            person_id = path.rpartition("/")[2]
            return httpx.Response(200, json=PERSON | {"person_id": person_id, "merges": [UNDONE_MERGE]})
        if path == "/v1/profiles/per_bea":
            fields = {"first_name": "Béatrice"}
            return httpx.Response(200, json={"person_id": "per_bea", "merged_into": "per_anne", "fields": fields})
        if path == "/v1/profiles/per_anne":
            fields = {"first_name": "Anne"}
            return httpx.Response(200, json={"person_id": "per_anne", "merged_into": None, "fields": fields})
        if path.endswith("/timeline"):
            return httpx.Response(200, json={"items": []})
        if path == "/v1/definitions":
            return httpx.Response(200, json={"segments": [], "triggers": []})
        return not_found(request)

    return platform


def test_a_person_identity_has_just_split_off_again_keeps_her_own_pages_while_profile_still_says_merged() -> None:
    browser, _ = console_as(_just_unmerged(), Role.ADMIN)

    for path in ("/patrons/per_bea", "/patrons/per_bea/export", "/patrons/per_bea/erase"):
        answer = browser.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.headers.get("location"))
        assert "per_bea" in answer.text
        assert "Anne" not in answer.text, path
    assert 'action="/patrons/per_bea/erase"' in browser.get("/patrons/per_bea/erase").text
    assert 'action="/patrons/per_bea/export"' in browser.get("/patrons/per_bea/export").text


def test_while_identity_cannot_answer_a_patron_s_page_follows_profile_s_merge_but_no_privacy_form_opens() -> None:
    browser, _ = console_as(_just_unmerged(identity_down=True), Role.ADMIN)

    page = browser.get("/patrons/per_bea")
    assert page.status_code == 303
    assert page.headers["location"] == "/patrons/per_anne"
    for step in ("export", "erase"):
        answer = browser.get(f"/patrons/per_bea/{step}")
        assert answer.status_code == 503, step
        assert "<form" not in answer.text.split("<main", 1)[1], step
        assert "le service d&#39;identité ne peut pas le confirmer" in answer.text, step


def test_while_identity_cannot_answer_no_privacy_form_opens_for_a_person_profile_says_merged_into_an_erased_one() -> (
    None
):
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity":
            raise httpx.ConnectError("refused")
        if request.url.path == "/v1/profiles/per_bea":
            # Her survivor was erased: profile says she is merged, into no one it still holds.
            body = {"person_id": "per_bea", "merged": True, "merged_into": None, "fields": {"first_name": "Béatrice"}}
            return httpx.Response(200, json=body)
        return _just_unmerged(identity_down=True)(request)

    browser, _ = console_as(platform, Role.ADMIN)

    for step in ("export", "erase"):
        answer = browser.get(f"/patrons/per_bea/{step}")
        assert answer.status_code == 503, step
        assert "<form" not in answer.text.split("<main", 1)[1], step


def test_an_id_of_dots_names_nobody_and_reaches_no_other_route_of_the_services() -> None:
    called: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        called.append(request.url.path)
        return not_found(request)

    browser, _ = console_as(platform, Role.PRIVACY, Role.VIEWER)

    for path in ("/patrons/%2E%2E", "/patrons/%2E%2E/erase", "/patrons/%2E/export"):
        assert browser.get(path).status_code == 404, path
    assert not [path for path in called if not path.startswith(("/v1/persons/", "/v1/profiles/", "/v1/definitions"))]
    assert not [path for path in called if path.rstrip("/").endswith(("/v1/persons", "/v1/profiles"))]


def test_a_segment_downloads_for_excel_in_french_from_its_page_with_semicolons_asked_of_profile() -> None:
    asked: list[dict[str, str]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            segment = {"name": "abonnes", "title": {"fr": "Abonnés"}, "description": {"fr": "Abonnés."}, "members": 1}
            return httpx.Response(200, json={"items": [segment]})
        if request.url.path == "/v1/segments/abonnes/members":
            asked.append(dict(request.url.params))
            if request.url.params.get("format") == "csv":
                return httpx.Response(200, content="\ufeffperson_id;first_name\r\nper_1;Élise\r\n".encode())
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        return not_found(request)

    browser, active = console_as(platform, Role.VIEWER)
    page = browser.get("/segments/abonnes")
    download = browser.post(
        "/segments/abonnes/export.csv",
        params={"separator": "semicolon"},
        data={"csrf_token": active.session.csrf_token},
    )

    assert 'formaction="/segments/abonnes/export.csv?separator=semicolon"' in page.text
    assert "CSV pour Excel en français (;)" in page.text
    assert download.status_code == 200
    assert download.content.decode("utf-8-sig").splitlines()[1] == "per_1;Élise"
    assert asked[-1] == {"format": "csv", "separator": "semicolon"}


def _segment_platform(asked: list[dict[str, str]]) -> Any:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            return httpx.Response(200, json={"items": [{"name": "abonnes", "title": {"fr": "Abonnés"}, "members": 1}]})
        if request.url.path == "/v1/segments/abonnes/members":
            asked.append(dict(request.url.params))
            if request.url.params.get("format") == "csv":
                return httpx.Response(200, content="\ufeffperson_id,first_name\r\nper_1,Élise\r\n".encode())
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        return not_found(request)

    return platform


def test_a_link_to_a_segment_s_download_from_another_site_opens_its_page_and_takes_no_member_list() -> None:
    asked: list[dict[str, str]] = []
    browser, _ = console_as(_segment_platform(asked), Role.VIEWER)

    answer = browser.get(
        "/segments/abonnes/export.csv",
        params={"separator": "semicolon"},
        headers={"Referer": "https://elsewhere.example/", "Sec-Fetch-Site": "cross-site"},
    )

    assert answer.status_code == 200
    assert "attachment" not in answer.headers.get("content-disposition", "")
    assert answer.headers["content-type"].startswith("text/html")
    assert 'method="post" action="/segments/abonnes/export.csv"' in answer.text
    assert not [params for params in asked if params.get("format") == "csv"]


def test_a_segment_s_download_posted_without_the_session_s_csrf_token_is_refused_and_takes_nothing() -> None:
    asked: list[dict[str, str]] = []
    browser, active = console_as(_segment_platform(asked), Role.VIEWER)

    for token in (None, "forged", active.session.csrf_token + "x"):
        data = {"csrf_token": token} if token else {}
        refused = browser.post("/segments/abonnes/export.csv", data=data)
        assert refused.status_code == 403
        assert "Formulaire refusé" in refused.text
    assert asked == []


def test_the_segment_list_offers_each_download_as_a_form_carrying_the_session_s_csrf_token() -> None:
    browser, active = console_as(_segment_platform([]), Role.VIEWER)

    page = browser.get("/segments").text

    assert 'href="/segments/abonnes/export.csv' not in page
    assert 'method="post" action="/segments/abonnes/export.csv"' in page
    assert f'name="csrf_token" value="{active.session.csrf_token}"' in page


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return None if found is None else html.unescape(found.group(1))


def test_a_segment_s_members_read_forward_300_pages_and_back_through_the_last_ones() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            segment = {
                "name": "abonnes",
                "title": {"fr": "Abonnés"},
                "description": {"fr": "Abonnés."},
                "members": 15_000,
            }
            return httpx.Response(200, json={"items": [segment]})
        after = int((request.url.params.get("cursor") or "per_000000")[4:])
        ids = [f"per_{number:06d}" for number in range(after + 1, after + 51)]
        members = [
            {
                "person_id": person_id,
                "first_name": "Élise",
                "last_name": "Roy",
                "email": None,
                "preferred_language": None,
                "consent.marketing_email.allowed": False,
            }
            for person_id in ids
        ]
        return httpx.Response(200, json={"items": members, "next_cursor": ids[-1]})

    def first_member(page: str) -> int:
        found = re.search(r'<a href="/patrons/per_(\d+)">Élise Roy</a>', page)
        assert found is not None
        return int(found.group(1))

    browser, _ = console_as(platform, Role.VIEWER)
    url = "/segments/abonnes"
    for number in range(1, 301):
        page = browser.get(url)
        assert page.status_code == 200, (number, len(url))
        assert first_member(page.text) == (number - 1) * 50 + 1
        assert len(url) < 2_000, number
        next_url = _link(page.text, "next")
        assert next_url is not None
        url = next_url

    going_back = _link(page.text, "prev")
    number = 300
    while going_back is not None:
        page = browser.get(going_back)
        number -= 1
        assert page.status_code == 200
        assert first_member(page.text) == (number - 1) * 50 + 1
        going_back = _link(page.text, "prev")
    # Back as far as the links remember, then straight to the first page.
    assert number < 300 - 10
    first = re.search(r'<a href="([^"]+)">Première page</a>', page.text)
    assert first is not None
    assert first_member(browser.get(html.unescape(first.group(1))).text) == 1


def test_a_segment_page_refuses_a_cursor_of_the_trail_longer_than_a_person_id_could_be() -> None:
    browser, _ = console_as(not_found, Role.VIEWER)

    assert browser.get("/segments/abonnes", params={"cursor": "per_b", "previous": "x" * 201}).status_code == 422


SWAPPED_SUGGESTION = {
    "review_id": "rev_1",
    "person_id": "per_new",
    "candidate_person_id": "per_old",
    "probability": 0.83,
    "agreements": {
        "first_name": "exact",
        "last_name": "exact",
        "address": "same_address",
        "phone": "missing",
        "email": "missing",
        "birth_date": "missing",
        "name_order": "swapped",
    },
}


def _swapped_names(request: httpx.Request) -> httpx.Response:
    home = {"street": "12 rue Principale", "city": "Rimouski"}
    if request.url.path == "/v1/review":
        return httpx.Response(200, json={"items": [SWAPPED_SUGGESTION]})
    if request.url.path == "/v1/profiles/per_new":
        return httpx.Response(200, json={"fields": {"first_name": "Tremblay", "last_name": "Marie", **home}})
    if request.url.path == "/v1/profiles/per_old":
        return httpx.Response(200, json={"fields": {"first_name": "Marie", "last_name": "Tremblay", **home}})
    return not_found(request)


def _name_rows(page: str) -> list[list[str]]:
    rows = re.findall(r'<tr class="[a-z]+">(.*?)</tr>', page, re.S)[:2]
    return [
        [html.unescape(cell.strip()) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows
    ]


@pytest.mark.parametrize(
    ("language", "first_label", "last_label", "said"),
    [
        ("en", "First name ↔ last name", "Last name ↔ first name", "First and last names swapped"),
        ("fr", "Prénom ↔ nom de famille", "Nom de famille ↔ prénom", "Prénom et nom de famille inversés"),
    ],
)
def test_a_suggestion_with_swapped_names_compares_them_crossed_and_says_so(
    language: str, first_label: str, last_label: str, said: str
) -> None:
    browser, _ = console_as(_swapped_names, Role.REVIEWER, language=language)

    page = browser.get("/review").text

    first, last = _name_rows(page)
    assert first[:3] == [first_label, "Tremblay", "Tremblay"]
    assert last[:3] == [last_label, "Marie", "Marie"]
    assert said in html.unescape(page)


@pytest.mark.parametrize(
    ("language", "failure", "none"),
    [
        ("fr", "Le service profile ne répond pas ; réessayez dans un moment.", "Aucun membre."),
        ("en", "The profile service is not answering; try again in a moment.", "No members."),
    ],
)
def test_a_segment_s_members_that_could_not_be_read_are_a_failure_in_place_of_their_table(
    language: str, failure: str, none: str
) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            segment = {"name": "fideles", "title": {"fr": "Fidèles", "en": "Loyal"}, "members": 1200}
            return httpx.Response(200, json={"items": [segment]})
        if request.url.path == "/v1/segments/fideles/members":
            raise httpx.ReadTimeout("slow")
        return not_found(request)

    browser, _ = console_as(platform, Role.VIEWER, language=language)

    answer = browser.get("/segments/fideles")

    assert answer.status_code == 503
    text = html.unescape(answer.text)
    assert none not in text
    assert "<table" not in text
    assert text.count(failure) == 1


def test_an_unknown_segment_s_page_shows_no_empty_member_table() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/segments":
            return httpx.Response(200, json={"items": []})
        return not_found(request)

    browser, _ = console_as(platform, Role.VIEWER)
    answer = browser.get("/segments/no-such-segment")

    assert "Rien à cet identifiant." in answer.text
    assert "Aucun membre." not in answer.text
