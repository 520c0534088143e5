"""The profile service on real Kafka and the real store: resolved facts in, profiles and announcements out, once."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from bson.binary import Binary

from services.profile.adapters.mongo import PROFILES, MongoProfileStore
from shared.events import parse_event
from shared.tokens import Scope
from tests.integration.profile.support import ProfileHarness, context_of, read_until, running_profile
from tests.integration.waiting import eventually
from tests.unit.profile_handlers.scenarios import MovableClock

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_a_first_purchase_updates_the_profile_and_fires_the_welcome_once_even_when_redelivered(
    harness: ProfileHarness,
) -> None:
    bought_at = datetime.now(UTC) - timedelta(days=2)
    fact = harness.resolved_purchase("sale-1", "per_elise", bought_at=bought_at)
    async with running_profile(harness) as app:
        await harness.publish([fact])
        changes = [parse_event(record.value) for record in await harness.changes.read(1)]
        triggers = [parse_event(record.value) for record in await harness.triggers.read(1)]
        await harness.publish([fact])
        again = await harness.triggers.read(1, deadline_seconds=10)
        stored = await context_of(app).deps.store.profile(harness.organisation_id, "per_elise")
    changed_types = [envelope.type for envelope, _ in changes]
    assert changed_types[0] == "parterre.profile.changed.v1"
    first_change = changes[0][1]
    assert first_change.model_dump()["changed"]["tickets_bought"] == 2
    [(trigger_envelope, trigger)] = triggers
    assert trigger.model_dump()["rule"] == "welcome-first-purchase"
    # The redelivery republishes the same trigger event (same id), which downstream de-duplicates.
    assert [parse_event(record.value)[0].id for record in again] == [trigger_envelope.id]
    assert stored is not None
    assert (stored.applied, stored.version) == (1, 1)


async def test_a_second_purchase_counts_once_and_does_not_welcome_again(harness: ProfileHarness) -> None:
    first_at = datetime.now(UTC) - timedelta(days=5)
    async with running_profile(harness) as app:
        await harness.publish([harness.resolved_purchase("sale-1", "per_luc", bought_at=first_at)])
        assert len(await harness.triggers.read(1)) == 1
        await harness.publish([harness.resolved_purchase("sale-2", "per_luc", bought_at=first_at + timedelta(days=1))])
        # Segments entered share the topic; one `profile changed` per purchase, the second counting both.
        events = [parse_event(record.value) for record in await harness.changes.read(4)]
        [change] = [data for envelope, data in events if envelope.type == "parterre.profile.changed.v1"][-1:]
        stored = await context_of(app).deps.store.profile(harness.organisation_id, "per_luc")
        later_triggers = await harness.triggers.read_quietly(2)
        token = await app.state.runtime.tokens.issue(harness.organisation_id, {Scope.PROFILES_READ}, "tests")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://profile") as client:
            found = await client.get("/v1/profiles/per_luc", headers={"Authorization": f"Bearer {token.token}"})
            missing = await client.get("/v1/profiles/per_nobody", headers={"Authorization": f"Bearer {token.token}"})
            anonymous = await client.get("/v1/profiles/per_luc")
            auth = {"Authorization": f"Bearer {token.token}"}
            whole = await client.get("/v1/profiles/per_luc/timeline", headers=auth)
            first_page = await client.get("/v1/profiles/per_luc/timeline", params={"limit": 1}, headers=auth)
            second_page = await client.get(
                "/v1/profiles/per_luc/timeline",
                params={"limit": 1, "cursor": first_page.json()["next_cursor"]},
                headers=auth,
            )
            no_timeline = await client.get("/v1/profiles/per_nobody/timeline", headers=auth)
            bad_cursor = await client.get("/v1/profiles/per_luc/timeline", params={"cursor": 0}, headers=auth)
    assert [item["event"]["id"] for item in whole.json()["items"]] == ["sale-2", "sale-1"]
    assert whole.json()["next_cursor"] is None
    assert [item["event"]["id"] for item in first_page.json()["items"]] == ["sale-2"]
    assert [item["event"]["id"] for item in second_page.json()["items"]] == ["sale-1"]
    assert second_page.json()["next_cursor"] is None
    assert no_timeline.status_code == 404
    assert bad_cursor.status_code == 422
    assert stored is not None
    assert stored.applied == 2
    assert change.model_dump()["changed"]["tickets_bought"] == 4
    assert [
        record
        for record in later_triggers
        if parse_event(record.value)[1].model_dump()["rule"] == "welcome-first-purchase"
    ] == []
    assert found.status_code == 200, found.text
    assert found.json()["fields"]["tickets_bought"] == 4
    assert found.json()["facts_applied"] == 2
    assert missing.status_code == 404
    assert anonymous.status_code == 401


async def test_the_running_service_sweeps_a_buyer_into_lapsed_when_time_alone_brings_it(
    harness: ProfileHarness,
) -> None:
    clock = MovableClock(datetime.now(UTC))
    sweeping = harness.settings.model_copy(update={"profile_sweep_interval_seconds": 0.2})
    fact = harness.resolved_purchase("sale-1", "per_lea", bought_at=clock.at - timedelta(days=360))
    async with running_profile(harness, settings=sweeping, clock=clock) as app:
        await harness.publish([fact])
        await read_until(harness.changes, lambda got: any(e.type == "parterre.profile.changed.v1" for e in got))
        clock.at += timedelta(days=10)
        fired = await read_until(harness.triggers, lambda got: len(got) >= 1)
        entered = await read_until(
            harness.changes,
            lambda got: any(
                e.type == "parterre.segment.entered.v1" and e.data["segment"] == "lapsed-buyers" for e in got
            ),
        )
        registry = app.state.runtime.registry
        # Counted once the visit is complete, after its events are out: the events can be read a moment before.
        assert await eventually(
            lambda: registry.get_sample_value("parterre_profile_swept_total", {"outcome": "swept"}) is not None
        )
        swept = registry.get_sample_value("parterre_profile_swept_total", {"outcome": "swept"})
        stored = await context_of(app).deps.store.profile(harness.organisation_id, "per_lea")
    assert [envelope.data["rule"] for envelope in fired] == ["lapsed-buyer"]
    assert [envelope.data["person_id"] for envelope in entered if envelope.data.get("segment") == "lapsed-buyers"] == [
        "per_lea"
    ]
    assert swept is not None
    assert swept >= 1
    assert stored is not None
    assert stored.due_at is not None
    assert stored.due_at > clock.at


async def test_the_service_reports_its_group_s_lag_as_a_gauge(harness: ProfileHarness) -> None:
    measured = harness.settings.model_copy(update={"consumer_lag_interval_seconds": 0.1})
    async with running_profile(harness, settings=measured) as app:
        await harness.publish([harness.resolved_purchase("sale-1", "per_lea", bought_at=datetime.now(UTC))])
        registry = app.state.runtime.registry

        def caught_up() -> bool:
            lag = registry.get_sample_value(
                "parterre_consumer_lag", {"group": harness.group_id, "topic": harness.resolutions_topic}
            )
            applied = registry.get_sample_value(
                "parterre_profile_facts_total", {"organisation": harness.organisation_id, "outcome": "applied"}
            )
            return bool(lag == 0 and applied == 1)

        assert await eventually(caught_up)


@pytest.mark.parametrize(("most", "memory_mb", "kept"), [(0, 128, 0), (2, 128, 2), (4, 0, 0)])
async def test_an_instance_keeps_as_many_profiles_between_batches_as_its_settings_say(
    harness: ProfileHarness, most: int, memory_mb: int, kept: int
) -> None:
    bought_at = datetime.now(UTC) - timedelta(days=3)
    settings = harness.settings.model_copy(
        update={"profile_kept_profiles": most, "profile_kept_profiles_mb": memory_mb}
    )
    persons = [f"per_{name}" for name in ("anne", "bea", "cleo", "dora")]
    async with running_profile(harness, settings=settings) as app:
        await harness.publish(
            [harness.resolved_purchase(f"sale-{person}", person, bought_at=bought_at) for person in persons]
        )
        registry = app.state.runtime.registry
        applied = {"organisation": harness.organisation_id, "outcome": "applied"}
        # Counted once the batch is done, its profiles kept.
        assert await eventually(lambda: registry.get_sample_value("parterre_profile_facts_total", applied) == 4)
        recent = context_of(app).deps.recent
        assert len(recent) == kept
        # As operators see it.
        assert registry.get_sample_value("parterre_profile_kept_profiles") == kept
        assert registry.get_sample_value("parterre_profile_kept_profiles_bytes") == recent.kept_bytes
        assert (recent.kept_bytes > 0) == (kept > 0)


@pytest.mark.parametrize(("compressed", "stored_as"), [(True, Binary), (False, str)])
async def test_an_instance_writes_states_compressed_or_as_text_as_its_settings_say(
    harness: ProfileHarness, compressed: bool, stored_as: type
) -> None:
    # Text is what releases before compressed states read, for an upgrade one instance at a time.
    settings = harness.settings.model_copy(update={"profile_compressed_states": compressed})
    bought_at = datetime.now(UTC) - timedelta(days=3)
    async with running_profile(harness, settings=settings) as app:
        await harness.publish([harness.resolved_purchase("sale-1", "per_elise", bought_at=bought_at)])
        await harness.changes.read(1)
        store = context_of(app).deps.store
        assert isinstance(store, MongoProfileStore)
        document = await app.state.runtime.database[PROFILES].find_one({"person_id": "per_elise"})
        stored = await store.profile(harness.organisation_id, "per_elise")
    assert document is not None
    assert isinstance(document["state"], stored_as)
    assert stored is not None
    assert stored.state.tickets
