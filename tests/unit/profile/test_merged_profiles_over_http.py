"""What a program reading a patron's profile learns of the persons merged into it: whose histories it holds."""

from fastapi.testclient import TestClient

from tests.unit.profile.http_harness import profile_app, profile_world


async def test_a_survivor_s_profile_names_the_persons_merged_into_it_down_the_chain() -> None:
    world = profile_world()
    for event_id, person_id in (("e1", "per_anne"), ("e2", "per_bea"), ("e3", "per_carl")):
        await world.deliver(world.purchase(event_id, person_id))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_carl"))
    await world.deliver(world.merged("mrg_2", "per_anne", "per_bea"))
    client = TestClient(profile_app(world))

    anne = client.get("/v1/profiles/per_anne").json()
    bea = client.get("/v1/profiles/per_bea").json()
    found = client.get("/v1/profiles?email=per_anne@example.com").json()["items"]

    assert (anne["merged_into"], anne["merged_persons"]) == (None, ["per_bea", "per_carl"])
    assert (bea["merged_into"], bea["merged_persons"]) == ("per_anne", ["per_carl"])
    assert [item["merged_persons"] for item in found] == [["per_bea", "per_carl"]]


async def test_a_merge_undone_leaves_the_survivor_naming_no_one() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_anne"))
    await world.deliver(world.purchase("e2", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    await world.deliver(world.unmerged("mrg_1", "per_anne", "per_bea"))

    anne = TestClient(profile_app(world)).get("/v1/profiles/per_anne").json()

    assert anne["merged_persons"] == []


async def test_a_person_merged_into_a_patron_since_erased_is_still_shown_merged() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_anne"))
    await world.deliver(world.purchase("e2", "per_bea"))
    await world.deliver(world.merged("mrg_1", "per_anne", "per_bea"))
    # The survivor's erasure arrives before the merged person's own, which identity sends on its own key.
    await world.deliver(world.erasure("per_anne"))
    client = TestClient(profile_app(world))

    bea = client.get("/v1/profiles/per_bea").json()

    assert (bea["merged"], bea["merged_into"]) == (True, None)
    assert client.get("/v1/profiles/per_anne").status_code == 404
