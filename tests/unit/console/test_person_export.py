"""A patron's export from the console: profile's part, identity's, and notify's for the person and each one merged into
them, in one file; a part that cannot be had fails the export rather than leave it out."""

import asyncio
import csv
import io
import json
from typing import Any

import httpx
import pytest

from services.console import pages
from services.console.adapters.platform_api import ApiError
from services.console.domain.roles import Role
from shared.spreadsheets import CsvSeparator
from tests.unit.console.console_app import PERSON, console_as, not_found

PROFILE_EXPORT = {"person_id": "per_1", "profile": {"fields": {"first_name": "Élise"}}, "merged_persons": ["per_2"]}
PROFILE_CSV = "\ufeffpart,name,value\r\nperson,person_id,per_1\r\nprofile,first_name,Élise\r\nmerged_person,per_2,\r\n"
NOTIFY_EXPORT = {"person_id": "per_1", "contact": {"emails": ["elise@example.com"]}, "messages": []}
IDENTITY_VIEW = {
    "person_id": "per_1",
    "status": "active",
    "identifiers": [
        {"type": "email", "source": None, "value": "elise@example.com"},
        {"type": "external_id", "source": "shopify", "value": "=7"},
    ],
    "merges": [],
    "exported_at": "2026-12-04T21:00:00+00:00",
    "earlier_exports": [{"at": "2026-11-02T09:30:00+00:00", "requested_by": "token:t0", "identifiers": 2, "merges": 0}],
}


def with_identity(platform: Any) -> Any:
    """`platform`, with identity knowing per_1."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "identity" and request.url.path == "/v1/persons/per_1/export":
            return httpx.Response(200, json=IDENTITY_VIEW)
        response: httpx.Response = platform(request)
        return response

    return answer


def nothing_held(_request: httpx.Request) -> httpx.Response:
    """What notify answers for a person it holds nothing about."""
    message = {"en": "Notify holds nothing about this person.", "fr": "Notify ne détient rien sur cette personne."}
    return httpx.Response(404, json={"detail": {"code": "person_not_found", "message": message}})


def notify_csv(person_id: str, delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(
        [
            ("part", "name", "value"),
            ("person", "person_id", person_id),
            # A receiver's error may hold a line break: the cell stays one cell.
            ("message", f"dlv_{person_id}", '{"last_error": "refusé\nligne 2"}'),
        ]
    )
    return "\ufeff" + out.getvalue()


def profile_export(format: str) -> httpx.Response:
    """Profile's part of the patron's export, in `format`."""
    return httpx.Response(200, json=PROFILE_EXPORT) if format == "json" else httpx.Response(200, text=PROFILE_CSV)


def export(
    platform: Any, format: str, *, identity_knows: bool = True, separator: CsvSeparator = CsvSeparator.COMMA
) -> bytes:
    browser, active = console_as(with_identity(platform) if identity_knows else platform, Role.PRIVACY)
    api = browser.app.state.runtime.extras["console"].deps.api  # type: ignore[attr-defined]
    body, _media_type = asyncio.run(pages.export_person(api, active.token, "per_1", format, separator))
    return body


def test_the_json_export_holds_profile_s_part_and_notify_s_for_each_person_it_knows() -> None:
    asked: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.host}{request.url.path}")
        if request.url.host == "profile" and request.url.path == "/v1/persons/per_1/export":
            return httpx.Response(200, json=PROFILE_EXPORT)
        if request.url.host == "notify" and request.url.path == "/v1/persons/per_1/export":
            return httpx.Response(200, json=NOTIFY_EXPORT)
        return nothing_held(request)

    document = json.loads(export(platform, "json"))

    assert document["profile"] == PROFILE_EXPORT["profile"]
    assert document["identity"] == IDENTITY_VIEW
    # Notify holds nothing about per_2 (404): nothing of theirs, and no failure.
    assert document["notify"] == [NOTIFY_EXPORT]
    assert asked == [
        "profile/v1/persons/per_1/export",
        "notify/v1/persons/per_1/export",
        "notify/v1/persons/per_2/export",
    ]


def test_a_person_identity_does_not_know_is_exported_without_its_part() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            return httpx.Response(200, json=PROFILE_EXPORT)
        return nothing_held(request)

    assert json.loads(export(platform, "json", identity_knows=False))["identity"] is None


def test_the_csv_export_follows_profile_s_lines_with_notify_s_for_the_person_and_each_merged_into_them() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            return httpx.Response(200, text=PROFILE_CSV)
        person_id = request.url.path.split("/")[3]
        return httpx.Response(200, text=notify_csv(person_id))

    text = export(platform, "csv").decode("utf-8")

    assert text.startswith("\ufeffpart,name,value\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert rows == [
        ["part", "name", "value"],
        ["person", "person_id", "per_1"],
        ["profile", "first_name", "Élise"],
        ["merged_person", "per_2", ""],
        ["identity", "person_id", "per_1"],
        ["identity", "status", "active"],
        ["identity_identifiers", "0", '{"type": "email", "source": null, "value": "elise@example.com"}'],
        ["identity_identifiers", "1", '{"type": "external_id", "source": "shopify", "value": "=7"}'],
        ["identity", "exported_at", "2026-12-04T21:00:00+00:00"],
        [
            "identity_earlier_exports",
            "0",
            '{"at": "2026-11-02T09:30:00+00:00", "requested_by": "token:t0", "identifiers": 2, "merges": 0}',
        ],
        ["notify_person", "person_id", "per_1"],
        ["notify_message", "dlv_per_1", '{"last_error": "refusé\nligne 2"}'],
        ["notify_person", "person_id", "per_2"],
        ["notify_message", "dlv_per_2", '{"last_error": "refusé\nligne 2"}'],
    ]


def test_the_csv_export_for_excel_in_french_has_every_line_separated_by_semicolons_as_each_service_gave_it() -> None:
    asked: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.host}{request.url.path}?{request.url.query.decode()}")
        delimiter = ";" if request.url.params.get("separator") == "semicolon" else ","
        if request.url.host == "profile":
            rows = [["part", "name", "value"], ["person", "person_id", "per_1"], ["profile", "first_name", "Élise"]]
            rows += [["profile", "street", "12, rue de l'Église; app. 3"], ["merged_person", "per_2", ""]]
            out = io.StringIO()
            csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
            return httpx.Response(200, text="\ufeff" + out.getvalue())
        person_id = request.url.path.split("/")[3]
        return httpx.Response(200, text=notify_csv(person_id, delimiter))

    text = export(platform, "csv", separator=CsvSeparator.SEMICOLON).decode("utf-8")

    assert text.startswith("\ufeffpart;name;value\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=";"))
    assert all(len(row) == 3 for row in rows), [row for row in rows if len(row) != 3]
    assert ["profile", "street", "12, rue de l'Église; app. 3"] in rows
    assert ["identity_identifiers", "1", '{"type": "external_id", "source": "shopify", "value": "=7"}'] in rows
    # Profile's CSV read at its semicolons: per_2, merged into per_1, is found and notify asked about them too.
    assert [row for row in rows if row[0] == "notify_person"] == [
        ["notify_person", "person_id", "per_1"],
        ["notify_person", "person_id", "per_2"],
    ]
    assert ["notify_message", "dlv_per_2", '{"last_error": "refusé\nligne 2"}'] in rows
    assert asked == [
        "profile/v1/persons/per_1/export?format=csv&separator=semicolon",
        "notify/v1/persons/per_1/export?format=csv&separator=semicolon",
        "notify/v1/persons/per_2/export?format=csv&separator=semicolon",
    ]


@pytest.mark.parametrize(
    ("language", "label"),
    [
        ("fr", "Télécharger et consigner (CSV pour Excel en français, ;)"),
        ("en", "Download and log (CSV for Excel in French, ;)"),
    ],
)
def test_the_export_page_offers_the_file_for_excel_in_french_which_comes_separated_by_semicolons(
    language: str, label: str
) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/persons/per_1":
            return httpx.Response(200, json=PERSON)
        if request.url.path == "/v1/definitions":
            return httpx.Response(200, json={"segments": [], "triggers": []})
        if request.url.host == "profile" and request.url.path == "/v1/persons/per_1/export":
            if request.url.params.get("separator") == "semicolon":
                return httpx.Response(200, text=PROFILE_CSV.replace(",", ";"))
            return httpx.Response(200, text=PROFILE_CSV)
        if request.url.host == "notify":
            return nothing_held(request)
        return not_found(request)

    browser, active = console_as(with_identity(platform), Role.PRIVACY, Role.VIEWER, language=language)
    page = browser.get("/patrons/per_1/export")
    download = browser.post(
        "/patrons/per_1/export",
        params={"separator": "semicolon"},
        data={"csrf_token": active.session.csrf_token, "format": "csv"},
    )

    assert page.status_code == 200, page.text[-500:]
    assert 'formaction="/patrons/per_1/export?separator=semicolon"' in page.text
    assert label in page.text
    assert download.status_code == 200, download.text[-500:]
    text = download.content.decode("utf-8")
    assert text.startswith("\ufeffpart;name;value\r\n")
    assert "identity;status;active\r\n" in text


@pytest.mark.parametrize("format", ["json", "csv"])
def test_a_person_profile_does_not_know_fails_the_export_before_identity_or_notify_log_an_export(format: str) -> None:
    asked: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.host}{request.url.path}")
        return not_found(request) if request.url.host == "profile" else httpx.Response(200, json=IDENTITY_VIEW)

    with pytest.raises(ApiError) as failed:
        export(platform, format, identity_knows=False)

    assert (failed.value.service, failed.value.status_code) == ("profile", 404)
    assert asked == ["profile/v1/persons/per_1/export"]


@pytest.mark.parametrize("format", ["json", "csv"])
def test_an_export_fails_when_notify_cannot_give_its_part(format: str) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            return profile_export(format)
        return httpx.Response(500, text="Internal Server Error")

    with pytest.raises(ApiError) as failed:
        export(platform, format)

    assert (failed.value.service, failed.value.status_code) == ("notify", 500)


@pytest.mark.parametrize("format", ["json", "csv"])
def test_an_export_fails_when_notify_answers_404_for_the_path_rather_than_for_the_person(format: str) -> None:
    # A notify without the route yet (deployed before it), or a proxy that knows no such path: notify's part could
    # not be had, which is not the same as notify holding nothing.
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.host == "profile":
            return profile_export(format)
        return not_found(request)

    with pytest.raises(ApiError) as failed:
        export(platform, format)

    assert (failed.value.service, failed.value.status_code, failed.value.code) == ("notify", 404, "not_found")
