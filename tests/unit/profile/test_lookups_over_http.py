"""What staff and upstream systems get from the profile look-ups for emails and phones written into a URL by hand."""

from fastapi.testclient import TestClient

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


async def test_a_phone_typed_with_brackets_or_dashes_finds_the_same_profile() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", phone="(514) 555-0199"))
    client = TestClient(profile_app(world))

    for typed in ("514-555-0199", "(514) 555-0199", "1 514 555 0199", "+15145550199"):
        answer = client.get("/v1/profiles", params={"phone": typed})

        assert [item["person_id"] for item in answer.json()["items"]] == ["per_jean"], typed


async def test_an_email_given_with_a_space_the_caller_meant_escaped_finds_no_one_rather_than_another_address() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_jean", person={"email": "jean.roy+billets@videotron.ca"}))

    answer = TestClient(profile_app(world)).get("/v1/profiles?email=jean.roy%20billets@videotron.ca")

    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == []
