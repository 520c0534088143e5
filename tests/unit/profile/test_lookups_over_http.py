"""What staff and upstream systems get from the profile look-ups and search for what they write into a URL by hand."""

from dataclasses import replace

from fastapi.testclient import TestClient

from services.profile.context import load_rules
from services.profile.handlers import reindex_lookups
from services.profile.settings import ProfileSettings
from tests.unit.profile.http_harness import profile_app, profile_world


async def test_an_email_looked_up_with_its_plus_tag_left_unescaped_in_the_url_finds_the_profile() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"email": "Jean.Roy+billets@videotron.ca"}))

    answer = TestClient(profile_app(world)).get("/v1/profiles?email=jean.roy+billets@videotron.ca")

    assert answer.status_code == 200, answer.text
    assert [item["person_id"] for item in answer.json()["items"]] == ["per_jean"]


async def test_an_international_phone_looked_up_with_its_plus_left_unescaped_in_the_url_finds_the_profile() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", phone="+33 1 42 68 53 00"))

    answer = TestClient(profile_app(world)).get("/v1/profiles?phone=+33142685300")

    assert answer.status_code == 200, answer.text
    assert [item["person_id"] for item in answer.json()["items"]] == ["per_jean"]


async def test_a_search_for_a_phone_with_its_plus_left_unescaped_in_the_url_reads_it_as_international() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_vienna", phone="+43 1 2345678"))
    # Without its `+`, 431 234 5678 is a Winnipeg number as dialled from Canada: the caller asked for Vienna.
    await world.deliver(world.purchase("e2", "per_winnipeg", phone="(431) 234-5678"))
    await world.deliver(world.purchase("e3", "per_paris", phone="+33 1 42 68 53 00"))
    client = TestClient(profile_app(world))

    for query, person_id in (("+4312345678", "per_vienna"), ("+33142685300", "per_paris")):
        answer = client.get(f"/v1/profiles/search?q={query}")

        assert answer.status_code == 200, answer.text
        assert [item["person_id"] for item in answer.json()["items"]] == [person_id], query


async def test_a_search_for_an_email_with_its_plus_left_unescaped_in_the_url_finds_the_patron() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"email": "jean+news@example.com"}))

    answer = TestClient(profile_app(world)).get("/v1/profiles/search?q=jean+news@example.com")

    assert answer.status_code == 200, answer.text
    assert [(item["person_id"], item["matched_by"]) for item in answer.json()["items"]] == [("per_jean", "email")]


async def test_a_search_for_an_upstream_id_after_a_plus_left_unescaped_in_the_url_still_finds_the_patron() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"external_id": "C-004521"}))

    answer = TestClient(profile_app(world)).get("/v1/profiles/search?q=+C-004521")

    assert answer.status_code == 200, answer.text
    assert [(item["person_id"], item["matched_by"]) for item in answer.json()["items"]] == [("per_jean", "upstream_id")]


async def test_an_upstream_id_looked_up_with_spaces_around_it_finds_the_patron_as_identity_s_look_up_does() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"external_id": "C-004521"}))
    client = TestClient(profile_app(world))

    answer = client.get("/v1/profiles?external_id=%20C-004521%20&source=billetterie-principale")

    assert answer.status_code == 200, answer.text
    assert [item["person_id"] for item in answer.json()["items"]] == ["per_jean"]


async def test_an_upstream_id_a_fact_sent_with_spaces_around_it_is_still_found_as_it_was_sent() -> None:
    # Profiles keep an upstream id as the fact sent it, padding included, as identity does.
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"external_id": " C-004521 "}))
    client = TestClient(profile_app(world))

    answer = client.get("/v1/profiles", params={"external_id": " C-004521 ", "source": "billetterie-principale"})

    assert answer.status_code == 200, answer.text
    assert [item["person_id"] for item in answer.json()["items"]] == ["per_jean"]


async def test_a_phone_typed_with_brackets_or_dashes_finds_the_same_profile() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", phone="(514) 555-0199"))
    client = TestClient(profile_app(world))

    for typed in ("514-555-0199", "(514) 555-0199", "1 514 555 0199", "+15145550199"):
        answer = client.get("/v1/profiles", params={"phone": typed})

        assert [item["person_id"] for item in answer.json()["items"]] == ["per_jean"], typed


async def test_a_phone_given_with_its_extension_is_found_by_its_number_however_typed() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", phone="514-555-0199 poste 12"))
    client = TestClient(profile_app(world))

    for typed in ("514-555-0199", "+15145550199", "514-555-0199 poste 12", "514-555-0199, p. 12"):
        answer = client.get("/v1/profiles", params={"phone": typed})
        searched = client.get("/v1/profiles/search", params={"q": typed})

        assert [item["person_id"] for item in answer.json()["items"]] == ["per_jean"], typed
        assert [item["person_id"] for item in searched.json()["items"]] == ["per_jean"], typed


async def test_an_email_given_with_a_space_the_caller_meant_escaped_finds_no_one_rather_than_another_address() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"email": "jean.roy+billets@videotron.ca"}))

    answer = TestClient(profile_app(world)).get("/v1/profiles?email=jean.roy%20billets@videotron.ca")

    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []


async def test_an_address_typed_with_gmail_dots_a_tag_or_googlemail_finds_the_patron_identity_links_it_to() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"email": "jeandupont@gmail.com"}))
    await world.deliver(world.purchase("e2", "per_anne", person={"email": "Anne.Roy+billets@gmail.com"}))
    client = TestClient(profile_app(world))

    for typed, person_id in (
        ("jean.dupont+news@gmail.com", "per_jean"),
        ("JeanDupont@googlemail.com", "per_jean"),
        ("annero.y@googlemail.com", "per_anne"),
        ("anneroy@gmail.com", "per_anne"),
    ):
        answer = client.get("/v1/profiles", params={"email": typed})

        assert [item["person_id"] for item in answer.json()["items"]] == [person_id], typed


async def test_an_address_at_another_domain_keeps_its_dots_and_loses_its_tag_as_identity_reads_it() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"email": "jean.dupont@videotron.ca"}))
    client = TestClient(profile_app(world))

    def found(typed: str) -> list[str]:
        return [item["person_id"] for item in client.get("/v1/profiles", params={"email": typed}).json()["items"]]

    assert found("jeandupont@videotron.ca") == []
    assert found("Jean.Dupont+billets@videotron.ca") == ["per_jean"]


async def test_a_profile_filed_before_addresses_were_linked_is_found_as_held_then_as_linked_once_reindexed() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"email": "Jean.Dupont@gmail.com"}))
    # As a profile stored before addresses were linked is filed: under the address it holds only.
    await world.store.unindex_lookups(world.organisation_id, "per_jean", ["email:jeandupont@gmail.com"])
    client = TestClient(profile_app(world))

    def found(typed: str) -> list[str]:
        return [item["person_id"] for item in client.get("/v1/profiles", params={"email": typed}).json()["items"]]

    assert found("jean.dupont@gmail.com") == ["per_jean"]
    await reindex_lookups(world.store, world.organisation_id)
    assert found("jeandupont+news@googlemail.com") == ["per_jean"]


async def test_a_phone_without_its_country_code_is_read_as_dialled_from_the_configured_region() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_paris", phone="+33 1 42 68 53 00"))
    # The fact says Canada: the profile holds the number as read from there, which a look-up must still find.
    await world.deliver(world.purchase("e2", "per_kept", phone="01 42 68 53 00"))
    world.deps = replace(world.deps, rules=replace(world.deps.rules, default_region="FR"))

    answer = TestClient(profile_app(world)).get("/v1/profiles", params={"phone": "01 42 68 53 00"})

    assert [item["person_id"] for item in answer.json()["items"]] == ["per_kept", "per_paris"]


def test_the_region_phones_are_read_from_is_the_configured_one_canada_unless_set() -> None:
    assert load_rules(ProfileSettings()).default_region == "CA"
    assert load_rules(ProfileSettings(profile_default_region="FR")).default_region == "FR"


async def test_a_look_up_refused_names_the_parameters_to_change_in_english_and_french() -> None:
    client = TestClient(profile_app(profile_world()))

    for params, fields in (
        ({}, ["query.email", "query.phone", "query.external_id"]),
        ({"email": "jean@videotron.ca", "phone": "514-555-0199"}, ["query.email", "query.phone"]),
        ({"email": "jean@videotron.ca", "source": "billetterie"}, ["query.source"]),
        ({"external_id": "C-004521"}, ["query.source"]),
    ):
        answer = client.get("/v1/profiles", params=params)

        assert answer.status_code == 422, params
        detail = answer.json()["detail"]
        assert detail["code"] == "bad_lookup"
        assert [field["field"] for field in detail["fields"]] == fields, params
        assert all(field["reason"] and field["reason_fr"] for field in detail["fields"]), params
        # The codes identity's look-up gives for the same criteria.
        assert {field["code"] for field in detail["fields"]} <= {
            "lookup_needs_one_identifier",
            "source_without_external_id",
        }, params


async def test_a_look_up_value_made_only_of_spaces_is_refused_naming_it_rather_than_finding_no_one() -> None:
    client = TestClient(profile_app(profile_world()))

    for query, fields in (
        ("email=%20", ["query.email"]),
        ("phone=%20%20", ["query.phone"]),
        ("external_id=%20&source=%20", ["query.external_id", "query.source"]),
        ("external_id=C-004521&source=%20", ["query.source"]),
        ("external_id=%20&source=billetterie", ["query.external_id"]),
    ):
        answer = client.get(f"/v1/profiles?{query}")

        assert answer.status_code == 422, query
        detail = answer.json()["detail"]
        assert detail["code"] == "bad_lookup"
        assert [field["field"] for field in detail["fields"]] == fields, query
        assert {field["code"] for field in detail["fields"]} == {"identifier_invalid"}, query
        assert all(field["reason"] and field["reason_fr"] for field in detail["fields"]), query


async def test_a_profile_and_a_search_list_every_address_and_name_those_that_bounced_hard() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", days_ago=40, person={"email": "jean.roy@videotron.ca"}))
    await world.deliver(world.purchase("e2", "per_jean", days_ago=30))
    await world.deliver(world.email_bounce("e3", "per_jean", email="per_jean@example.com", days_ago=10))
    client = TestClient(profile_app(world))

    fields = client.get("/v1/profiles/per_jean").json()["fields"]
    found = client.get("/v1/profiles/search", params={"q": "per_jean@example.com"}).json()["items"]

    assert (fields["emails"], fields["undeliverable_emails"]) == (
        ["per_jean@example.com", "jean.roy@videotron.ca"],
        ["per_jean@example.com"],
    )
    assert [(item["emails"], item["undeliverable_emails"]) for item in found] == [
        (fields["emails"], fields["undeliverable_emails"])
    ]
