"""A segment's members as staff take them away: the spreadsheet of who they are and how to reach them."""

import csv
import io

from fastapi.testclient import TestClient

from shared.privacy_log import segment_log_key
from tests.unit.profile.http_harness import profile_app, profile_world


def _members_csv(client: TestClient, segment: str) -> list[dict[str, str]]:
    answer = client.get(f"/v1/segments/{segment}/members", params={"format": "csv"})
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


async def test_a_members_spreadsheet_gives_each_phone_as_sms_tools_read_it_and_defuses_a_formula_in_a_name() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise", phone="(514) 555-0199"))
    await world.deliver(world.purchase("e2", "per_luc", phone="+1 514 555 0100", person={"first_name": "+1+cmd"}))

    rows = _members_csv(TestClient(profile_app(world)), "francophones")

    assert [(row["person_id"], row["phone"]) for row in rows] == [
        ("per_elise", "+15145550199"),
        ("per_luc", "+15145550100"),
    ]
    assert rows[1]["first_name"] == "'+1+cmd"


async def test_a_members_spreadsheet_for_excel_in_french_separates_cells_with_semicolons() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise", phone="(514) 555-0199", person={"first_name": "Élise; Anne"}))
    client = TestClient(profile_app(world))

    answer = client.get("/v1/segments/francophones/members", params={"format": "csv", "separator": "semicolon"})

    assert answer.status_code == 200, answer.text
    text = answer.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "person_id;first_name;last_name;email;phone;preferred_language;" + (
        "consent.marketing_email.allowed;consent.sms.allowed"
    )
    [row] = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    # A cell holding the separator is quoted, as in a comma-separated file.
    assert (row["person_id"], row["first_name"], row["phone"]) == ("per_elise", "Élise; Anne", "+15145550199")


async def test_a_members_spreadsheet_is_logged_as_an_export_of_the_segment_and_a_page_read_is_not() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    client = TestClient(profile_app(world))

    _members_csv(client, "francophones")
    client.get("/v1/segments/francophones/members")

    [entry] = await world.store.privacy_entries(world.organisation_id, segment_log_key("francophones"))
    assert (entry.action, entry.details["segment"], entry.details["format"]) == (
        "segment_exported",
        "francophones",
        "csv",
    )
    assert entry.requested_by.startswith("token:")


def test_a_separator_the_spreadsheet_cannot_take_is_refused_by_name() -> None:
    answer = TestClient(profile_app(profile_world())).get(
        "/v1/segments/francophones/members", params={"format": "csv", "separator": "tab"}
    )

    assert answer.status_code == 422
    assert "separator" in answer.text


async def test_a_member_s_email_is_the_latest_address_given_that_is_not_undeliverable() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise", days_ago=40, person={"email": "elise.bis@example.com"}))
    await world.deliver(world.purchase("e2", "per_elise", days_ago=30))
    await world.deliver(world.email_bounce("e3", "per_elise", email="per_elise@example.com", days_ago=10))
    await world.deliver(world.purchase("e4", "per_luc", days_ago=30))
    await world.deliver(world.email_bounce("e5", "per_luc", email="per_luc@example.com", days_ago=10))
    client = TestClient(profile_app(world))

    rows = _members_csv(client, "francophones")
    page = client.get("/v1/segments/francophones/members").json()["items"]

    assert [(row["person_id"], row["email"]) for row in rows] == [
        ("per_elise", "elise.bis@example.com"),
        ("per_luc", ""),
    ]
    assert [(item["person_id"], item["email"]) for item in page] == [
        ("per_elise", "elise.bis@example.com"),
        ("per_luc", None),
    ]
