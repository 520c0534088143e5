"""`parterre profile recompute` folds the profiles an older release stored again from their facts: the addresses
that bounced hard, which that release did not keep, are named undeliverable and announced; a profile merged into
another is left to it; a second run changes and announces nothing."""

import json

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.profile.adapters.mongo import PROFILES, MongoProfileStore, _state_from
from shared.mongo import Document
from shared.settings import ServiceSettings
from tests.integration.profile.support import ProfileHarness, commands_reach, read_until
from tests.integration.terminal import run_from_terminal
from tests.unit.profile_handlers.scenarios import PROFILE_CHANGED, World

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_recomputing_by_hand_names_the_addresses_that_bounced_in_profiles_stored_before_and_is_idempotent(
    harness: ProfileHarness,
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    organisation_id = harness.organisation_id
    world = World(MongoProfileStore(database), _no_documents, organisation_id=organisation_id)
    await world.deliver(world.purchase("sale-anne", "per_anne", days_ago=5))
    await world.deliver(world.email_bounce("bounce-anne", "per_anne", email="per_anne@example.com", days_ago=1))
    await world.deliver(world.purchase("sale-bea", "per_bea", days_ago=5))
    await world.deliver(world.purchase("sale-cleo", "per_cleo", days_ago=5))
    await world.deliver(world.email_bounce("bounce-cleo", "per_cleo", email="per_cleo@example.com", days_ago=1))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_cleo"))
    for person_id in ("per_anne", "per_bea", "per_cleo"):
        await _as_an_older_release_stored_it(database, organisation_id, person_id)
    assert (await world.fields("per_anne"))["undeliverable_emails"] == []
    cleo = await world.profile("per_cleo")
    commands_reach(monkeypatch, settings)

    first = await run_from_terminal(["profile", "recompute", "--organisation", organisation_id])
    first_output = capsys.readouterr()
    announced = await read_until(
        harness.changes,
        lambda received: {"per_anne", "per_bea"} <= {envelope.person_id for envelope in received},
    )
    anne, bea = await world.profile("per_anne"), await world.profile("per_bea")
    again = await run_from_terminal(["profile", "recompute", "--organisation", organisation_id])
    again_output = capsys.readouterr()
    announced_again = await harness.changes.read_quietly(3)

    assert (first, again) == (0, 0)
    assert first_output.out == (
        "visited 3 profiles: 2 recomputed, 0 unchanged, 1 skipped (1 merged into another profile, 0 erased)\n"
    )
    assert first_output.err.startswith("recompute run ")
    assert sorted(
        (envelope.person_id, envelope.data["changed"].get("undeliverable_emails"))
        for envelope in announced
        if envelope.type == PROFILE_CHANGED
    ) == [("per_anne", ["per_anne@example.com"]), ("per_bea", ["per_cleo@example.com"])]
    assert (await world.fields("per_anne"))["undeliverable_emails"] == ["per_anne@example.com"]
    assert (await world.fields("per_bea"))["undeliverable_emails"] == ["per_cleo@example.com"]
    assert await world.profile("per_cleo") == cleo, "a profile merged away is left to the profile holding it"
    assert again_output.out == (
        "visited 3 profiles: 0 recomputed, 2 unchanged, 1 skipped (1 merged into another profile, 0 erased)\n"
    )
    assert announced_again == []
    assert (await world.profile("per_anne"), await world.profile("per_bea")) == (anne, bea)


async def test_storing_every_profile_again_uncompressed_leaves_none_an_older_release_cannot_read(
    harness: ProfileHarness,
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    organisation_id = harness.organisation_id
    # Stored compressed, as the service does by default.
    world = World(MongoProfileStore(database), _no_documents, organisation_id=organisation_id)
    await world.deliver(world.purchase("sale-anne", "per_anne", days_ago=5))
    await world.deliver(world.purchase("sale-bea", "per_bea", days_ago=5))
    await world.deliver(world.purchase("sale-cleo", "per_cleo", days_ago=5))
    await world.deliver(world.merged("mrg_1", "per_bea", "per_cleo"))
    before = {person_id: await world.profile(person_id) for person_id in ("per_anne", "per_bea", "per_cleo")}
    assert all(isinstance(document["state"], bytes) for document in await _documents(database, organisation_id))
    commands_reach(monkeypatch, settings)
    monkeypatch.setenv("PARTERRE_PROFILE_COMPRESSED_STATES", "false")

    code = await run_from_terminal(["profile", "recompute", "--store-all", "--organisation", organisation_id])
    output = capsys.readouterr()

    assert code == 0
    assert output.out == (
        "visited 3 profiles: 0 recomputed, 0 unchanged, 3 stored again as they were, 0 skipped (0 merged into "
        "another profile, 0 erased)\n"
    )
    documents = await _documents(database, organisation_id)
    assert len(documents) == 3
    # The form releases before 2026-12 read: the state as JSON text, the last announcements as a list.
    assert all(isinstance(document["state"], str) for document in documents)
    assert all(isinstance(document["last_outputs"], list) for document in documents)
    for person_id, profile in before.items():
        after = await world.profile(person_id)
        assert (after.state, after.merged_into, after.version) == (
            profile.state,
            profile.merged_into,
            profile.version + 1,
        )
    assert await harness.changes.read_quietly(2) == [], "storing a profile again as it was announces nothing"


async def _documents(database: AsyncDatabase[Document], organisation_id: str) -> list[Document]:
    return [document async for document in database[PROFILES].find({"organisation_id": organisation_id})]


async def _as_an_older_release_stored_it(
    database: AsyncDatabase[Document], organisation_id: str, person_id: str
) -> None:
    """The stored profile's state without the field a release before dead addresses were kept did not write."""
    profiles = database[PROFILES]
    document = await profiles.find_one({"organisation_id": organisation_id, "person_id": person_id})
    assert document is not None
    state = dict(_state_from(document["state"]))
    del state["emails_undeliverable_at"]
    await profiles.update_one({"_id": document["_id"]}, {"$set": {"state": json.dumps(state)}})


async def _no_documents() -> list[str]:
    return []
