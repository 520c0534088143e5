"""The profile service following identity on real Kafka and the real store: merges, unmerges, late facts, erasures."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from services.profile.adapters.mongo import COLLECTIONS
from services.profile.domain.profile import view
from shared.events import Envelope
from shared.mongo import Document
from shared.tokens import Scope
from tests.integration.profile.support import ProfileHarness, context_of, read_until, running_profile
from tests.integration.waiting import eventually
from tests.unit.profile_handlers.scenarios import IdentityEvents

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

PROFILE_CHANGED = "parterre.profile.changed.v1"
SEGMENT_EXITED = "parterre.segment.exited.v1"


async def fields(app: FastAPI, organisation_id: str, person_id: str) -> dict[str, Any] | None:
    context = context_of(app)
    stored = await context.deps.store.profile(organisation_id, person_id)
    if stored is None:
        return None
    as_of = max(context.deps.clock.now(), stored.state.latest_event_at or context.deps.clock.now())
    return view(stored.state, as_of=as_of, seasons=context.deps.rules.seasons)


async def tickets(app: FastAPI, organisation_id: str, person_id: str) -> int | None:
    found = await fields(app, organisation_id, person_id)
    return None if found is None else int(found["tickets_bought"])


def outcomes(app: FastAPI, organisation_id: str, outcome: str) -> float:
    registry = app.state.runtime.registry
    value = registry.get_sample_value(
        "parterre_profile_facts_total", {"organisation": organisation_id, "outcome": outcome}
    )
    return value or 0.0


def tickets_announced(events: list[Envelope], person_id: str) -> list[int]:
    return [
        event.data["changed"]["tickets_bought"]
        for event in events
        if event.type == PROFILE_CHANGED
        and event.data["person_id"] == person_id
        and "tickets_bought" in event.data["changed"]
    ]


async def documents(database: AsyncDatabase[Document], organisation_id: str) -> list[str]:
    """Every document of the organisation in the profile collections, read by scanning them whole."""
    found: list[str] = []
    for name in COLLECTIONS:
        found.extend(
            [
                f"{name}: {document!r}"
                async for document in database[name].find({})
                if str(document["_id"]).startswith(f"{organisation_id}|")
            ]
        )
    return sorted(found)


async def holds_tickets(app: FastAPI, organisation_id: str, person_id: str, count: int) -> bool:
    return await tickets(app, organisation_id, person_id) == count


async def has_applied(app: FastAPI, organisation_id: str, person_id: str, applied: int) -> bool:
    stored = await context_of(app).deps.store.profile(organisation_id, person_id)
    return stored is not None and stored.applied >= applied


async def test_a_merge_adds_the_histories_up_and_a_merge_delivered_again_changes_nothing(
    harness: ProfileHarness, database: AsyncDatabase[Document]
) -> None:
    identity, organisation = IdentityEvents(harness.organisation_id), harness.organisation_id
    merge = identity.merged("mrg_1", "per_anne", "per_bea")
    async with running_profile(harness) as app:
        await harness.publish(
            [identity.purchase("sale-a", "per_anne"), identity.purchase("sale-b", "per_bea", tickets=3)]
        )
        await read_until(
            harness.changes, lambda got: bool(tickets_announced(got, "per_anne") and tickets_announced(got, "per_bea"))
        )

        await harness.publish([merge])
        merged = await read_until(harness.changes, lambda got: tickets_announced(got, "per_anne") == [5])
        stored = await documents(database, organisation)
        await harness.publish([merge])
        assert await eventually(lambda: outcomes(app, organisation, "republished") == 1)
        again = await read_until(harness.changes, lambda got: tickets_announced(got, "per_anne") == [5])
        after = await documents(database, organisation)
        survivor = await context_of(app).deps.store.profile(organisation, "per_anne")
        absorbed = await context_of(app).deps.store.profile(organisation, "per_bea")
        token = await app.state.runtime.tokens.issue(organisation, {Scope.PROFILES_READ}, "tests")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://profile") as client:
            shown = await client.get("/v1/profiles/per_bea", headers={"Authorization": f"Bearer {token.token}"})

    assert shown.status_code == 200
    assert shown.json()["merged_into"] == "per_anne"
    assert tickets_announced(merged, "per_anne") == [5]
    announced = next(event.id for event in merged if event.type == PROFILE_CHANGED)
    assert announced in [event.id for event in again], "the same announcement, republished"
    assert after == stored, "a merge delivered again changes nothing"
    assert survivor is not None
    assert [held.merge_id for held in survivor.merges] == ["mrg_1"]
    assert absorbed is not None
    assert (absorbed.merged_into, absorbed.merged_by) == ("per_anne", "mrg_1")


async def test_an_unmerge_gives_both_persons_back_their_own_facts(harness: ProfileHarness) -> None:
    identity, organisation = IdentityEvents(harness.organisation_id), harness.organisation_id
    unmerge = identity.unmerged("mrg_1", "per_anne", "per_bea")
    async with running_profile(harness) as app:
        await harness.publish(
            [identity.purchase("sale-a", "per_anne"), identity.purchase("sale-b", "per_bea", tickets=3)]
        )
        await harness.publish([identity.merged("mrg_1", "per_anne", "per_bea")])
        # Each person's events arrive in order: once these are read, whatever follows comes from the unmerge.
        await read_until(
            harness.changes,
            lambda got: bool(tickets_announced(got, "per_bea")) and 5 in tickets_announced(got, "per_anne"),
        )

        await harness.publish([unmerge])
        announced = await read_until(
            harness.changes,
            lambda got: bool(tickets_announced(got, "per_anne") and tickets_announced(got, "per_bea")),
        )
        anne, bea = await tickets(app, organisation, "per_anne"), await tickets(app, organisation, "per_bea")
        restored = await context_of(app).deps.store.profile(organisation, "per_bea")
        await harness.publish([unmerge])
        assert await eventually(lambda: outcomes(app, organisation, "republished") == 1)
        after = (await tickets(app, organisation, "per_anne"), await tickets(app, organisation, "per_bea"))

    assert tickets_announced(announced, "per_anne") == [2]
    assert tickets_announced(announced, "per_bea") == [3]
    assert (anne, bea) == (2, 3)
    assert restored is not None
    assert (restored.merged_into, restored.merged_by) == (None, None)
    assert after == (2, 3)


async def test_a_late_fact_for_a_merged_person_lands_on_the_survivor(harness: ProfileHarness) -> None:
    identity, organisation = IdentityEvents(harness.organisation_id), harness.organisation_id
    async with running_profile(harness) as app:
        await harness.publish(
            [identity.purchase("sale-a", "per_anne"), identity.purchase("sale-b", "per_bea", tickets=3)]
        )
        await harness.publish([identity.merged("mrg_1", "per_anne", "per_bea")])
        assert await eventually(lambda: holds_tickets(app, organisation, "per_anne", 5))

        await harness.publish([identity.purchase("sale-late", "per_bea", tickets=1, days_ago=1)])
        announced = await read_until(harness.changes, lambda got: 6 in tickets_announced(got, "per_anne"))
        survivor = await tickets(app, organisation, "per_anne")
        merged = await context_of(app).deps.store.profile(organisation, "per_bea")

    assert 6 in tickets_announced(announced, "per_anne")
    assert survivor == 6
    assert merged is not None
    assert merged.merged_into == "per_anne"
    assert merged.segments == frozenset()


async def test_an_erasure_leaves_nothing_naming_the_person_and_redeliveries_do_not_bring_it_back(
    harness: ProfileHarness, database: AsyncDatabase[Document]
) -> None:
    identity, organisation = IdentityEvents(harness.organisation_id), harness.organisation_id
    sale, erasure = identity.purchase("sale-e", "per_emma"), identity.erasure("per_emma")
    async with running_profile(harness) as app:
        await harness.publish([sale, identity.donation("gift-e", "per_emma"), identity.purchase("sale-o", "per_olga")])
        assert await eventually(lambda: has_applied(app, organisation, "per_emma", 2))
        emma = await context_of(app).deps.store.profile(organisation, "per_emma")
        assert emma is not None
        segments = emma.segments
        assert "donors" in segments

        await harness.publish([erasure])
        exits = await read_until(
            harness.changes,
            lambda got: {event.data["segment"] for event in got if event.type == SEGMENT_EXITED} == segments,
        )
        assert await eventually(lambda: outcomes(app, organisation, "erased") == 1)
        erased = await documents(database, organisation)
        await harness.publish([sale, erasure])
        assert await eventually(lambda: outcomes(app, organisation, "erased") == 2)
        assert await eventually(lambda: outcomes(app, organisation, "erased_person") == 1)
        after = await documents(database, organisation)
        olga = await tickets(app, organisation, "per_olga")

    assert {event.data["person_id"] for event in exits if event.type == SEGMENT_EXITED} == {"per_emma"}
    assert erased, "other persons' documents are still there"
    assert [document for document in erased if "per_emma" in document] == []
    assert [document for document in after if "per_emma" in document] == []
    assert olga == 2


async def test_a_survivor_s_export_holds_what_was_fired_for_each_person_merged_into_it(harness: ProfileHarness) -> None:
    identity, organisation = IdentityEvents(harness.organisation_id), harness.organisation_id
    async with running_profile(harness) as app:
        await harness.publish(
            [identity.purchase("sale-a", "per_anne", days_ago=1), identity.purchase("sale-b", "per_bea", days_ago=1)]
        )
        assert await eventually(lambda: has_applied(app, organisation, "per_bea", 1))
        await harness.publish([identity.merged("mrg_1", "per_anne", "per_bea")])
        assert await eventually(lambda: has_applied(app, organisation, "per_anne", 2))
        store = context_of(app).deps.store
        bea = await store.profile(organisation, "per_bea")
        token = await app.state.runtime.tokens.issue(organisation, {Scope.PRIVACY_EXPORT}, "tests")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://profile",
            headers={"Authorization": f"Bearer {token.token}"},
        ) as client:
            exported = (await client.get("/v1/persons/per_anne/export")).json()
    assert bea is not None
    assert bea.fired, "her welcome was fired before the merge, and is kept on her profile"
    assert exported["merged_persons"] == ["per_bea"]
    assert set(bea.fired) <= set(exported["triggers_fired"])
