"""A person's data exported (Québec Law 25 portability): the CSV a spreadsheet opens holds what the JSON holds."""

import csv
import io
import json

from fastapi.testclient import TestClient

from tests.unit.profile.http_harness import profile_app, profile_world


def _csv_rows(text: str) -> list[tuple[str, str, str]]:
    assert text.startswith("\ufeff"), "spreadsheet software reads the accents right only after a BOM"
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    assert next(reader) == ["part", "name", "value"]
    return [(part, name, value) for part, name, value in reader]


async def test_the_csv_export_names_the_organisation_holding_the_data_and_whom_the_person_was_merged_into() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    await world.deliver(world.purchase("e2", "per_elise_again"))
    await world.deliver(world.merged("mrg_1", "per_elise", "per_elise_again"))
    client = TestClient(profile_app(world))

    as_json = client.get("/v1/persons/per_elise_again/export").json()
    rows = _csv_rows(client.get("/v1/persons/per_elise_again/export", params={"format": "csv"}).text)

    assert ("person", "organisation_id", as_json["organisation_id"]) in rows
    assert ("profile", "merged_into", "per_elise") in rows


async def test_the_csv_export_holds_each_line_of_the_ticket_history_the_json_export_holds() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise", tickets=2))
    await world.deliver(world.purchase("e2", "per_elise", tickets=1, production="les-feluettes"))
    client = TestClient(profile_app(world))

    tickets = client.get("/v1/persons/per_elise/export").json()["profile"]["tickets"]
    rows = _csv_rows(client.get("/v1/persons/per_elise/export", params={"format": "csv"}).text)

    assert len(tickets) == 2
    assert [json.loads(value) for part, _, value in rows if part == "ticket"] == tickets
    assert any("Les Belles-sœurs" in value for part, _, value in rows if part == "ticket")


async def test_the_csv_export_for_excel_in_french_separates_cells_with_semicolons_and_reads_back_whole() -> None:
    world = profile_world()
    person = {"first_name": "Élise; Anne", "last_name": '=HYPERLINK("https://example.com")'}
    await world.deliver(world.purchase("e1", "per_elise", person=person))
    client = TestClient(profile_app(world))

    answer = client.get("/v1/persons/per_elise/export", params={"format": "csv", "separator": "semicolon"})

    assert answer.status_code == 200, answer.text
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeffpart;name;value\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=";"))
    assert all(len(row) == 3 for row in rows), "every line has the three cells at the semicolons"
    # A cell holding the separator is quoted; a formula stays text.
    assert ["profile", "first_name", "Élise; Anne"] in rows
    assert ["profile", "last_name", '\'=HYPERLINK("https://example.com")'] in rows
    assert ["person", "person_id", "per_elise"] in rows


def test_a_separator_the_export_cannot_take_is_refused_by_name() -> None:
    answer = TestClient(profile_app(profile_world())).get(
        "/v1/persons/per_elise/export", params={"format": "csv", "separator": "tab"}
    )

    assert answer.status_code == 422
    assert "separator" in answer.text


def test_the_export_s_openapi_document_offers_the_separator_as_the_members_download_does() -> None:
    app = profile_app(profile_world())
    paths = app.openapi()["paths"]

    def separator(path: str) -> dict[str, object]:
        [parameter] = [item for item in paths[path]["get"]["parameters"] if item["name"] == "separator"]
        return dict(parameter)

    export, members = separator("/v1/persons/{person_id}/export"), separator("/v1/segments/{name}/members")
    assert export == members
    assert "semicolon" in str(export["description"])
