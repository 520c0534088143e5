"""The identity service on real Kafka and the real store: facts in, resolutions out, exactly once in effect."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.identity.adapters.mongo import MAINTENANCE, PRIVACY_LOG, MongoIdentityStore
from services.identity.bootstrap import create_app
from services.identity.context import IdentityContext
from services.identity.handlers import active_person
from services.identity.refiling import refile_blocks
from services.identity.rekeying import rekey_identifiers
from services.identity.settings import IdentitySettings
from services.identity.upgrades import ADDRESS_FORM, BLOCK_FILING, StoredForm
from shared.events import Envelope, PersonRef, build_envelope, parse_event
from shared.events.audience import PersonDetailsUpdatedV1
from shared.events.identity import MatchMethod, PersonResolvedV1, PersonsMergedV1
from shared.kafka import ORGANISATION_HEADER
from shared.mongo import mongo_client
from shared.settings import ServiceSettings
from shared.tokens import Scope
from shared.topic_admin import ensure_topics
from shared.topics import IDENTITY_RESOLUTIONS, all_topic_partitions, dead_letter_partitions, dead_letter_topic_for
from tests.integration.identity.conftest import START, normalised
from tests.integration.identity.test_refiling import FREDERIC, store_as_before
from tests.integration.kafka_support import TopicTail, publish_envelopes, read_all
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


@dataclass
class IdentityHarness:
    settings: IdentitySettings
    organisation_id: str
    facts_topic: str
    group_id: str
    resolutions: TopicTail

    def fact(self, event_id: str, *, source: str = "billetterie-principale", **person: Any) -> Envelope:
        return build_envelope(
            PersonDetailsUpdatedV1(person=PersonRef(source=source, **person)),
            organisation_id=self.organisation_id,
            source=f"/orgs/{self.organisation_id}/sources/{source}",
            id=event_id,
            time=START,
        )

    async def publish(self, envelopes: list[Envelope]) -> None:
        await publish_envelopes(self.settings.kafka_bootstrap, self.facts_topic, envelopes)

    async def outputs(self, expected: int) -> list[Envelope]:
        records = await self.resolutions.read(expected, deadline_seconds=60)
        return [parse_event(record.value)[0] for record in records]


@pytest.fixture
async def harness(settings: ServiceSettings, unique_name: str) -> AsyncIterator[IdentityHarness]:
    # A topic and group of the test's own: the catalog's topic holds every other test's facts.
    facts_topic, group_id = f"test.facts.{unique_name}", f"test-identity-{unique_name}"
    await ensure_topics(
        settings.kafka_bootstrap,
        {**all_topic_partitions(), facts_topic: 6, **dead_letter_partitions(settings.kafka_namespace + group_id)},
    )
    tail = await TopicTail(settings.kafka_bootstrap, IDENTITY_RESOLUTIONS.name, unique_name).start()
    identity_settings = IdentitySettings(**settings.model_dump())
    yield IdentityHarness(identity_settings, unique_name, facts_topic, group_id, tail)
    await tail.stop()


@asynccontextmanager
async def running_identity(harness: IdentityHarness) -> AsyncIterator[FastAPI]:
    app = create_app(harness.settings, facts_topic=harness.facts_topic, group_id=harness.group_id)
    async with app.router.lifespan_context(app):
        yield app


def context_of(app: FastAPI) -> IdentityContext:
    context = app.state.runtime.extras["identity"]
    assert isinstance(context, IdentityContext)
    return context


def resolved_data(envelope: Envelope) -> PersonResolvedV1:
    _, data = parse_event(envelope.to_json_bytes())
    assert isinstance(data, PersonResolvedV1)
    return data


async def test_facts_are_resolved_and_published_keyed_by_person_with_merges_before_the_fact(
    harness: IdentityHarness,
) -> None:
    async with running_identity(harness) as app:
        # One at a time: facts with different keys may be handled in any order, and the older person survives.
        await harness.publish([harness.fact("f1", external_id="C-1", first_name="Élise", last_name="Gagnon")])
        first = await harness.outputs(1)
        await harness.publish([harness.fact("f2", source="shopify-boutique", external_id="207", email="e@x.com")])
        first += await harness.outputs(1)
        await harness.publish([harness.fact("f3", external_id="C-1", email="E@x.com")])
        merge_outputs = await harness.outputs(2)

        def merges_counted() -> float | None:
            labels = {"organisation": harness.organisation_id, "decided_by": "rule"}
            value = app.state.runtime.registry.get_sample_value("parterre_identity_merges_total", labels)
            return None if value is None else float(value)

        # Counted once the handler returns, just after the events are out; whichever way the consumer handled the
        # fact (in its batch, or one at a time).
        assert await eventually(lambda: merges_counted() is not None)
        assert merges_counted() == 1
    by_fact = {resolved_data(envelope).original.id: resolved_data(envelope) for envelope in first}
    assert {data.match.method for data in by_fact.values()} == {MatchMethod.NEW}
    box_office, shop = by_fact["f1"].person_id, by_fact["f2"].person_id
    assert [envelope.type for envelope in merge_outputs] == ["parterre.person.merged.v1", "parterre.person.resolved.v1"]
    _, merged = parse_event(merge_outputs[0].to_json_bytes())
    assert isinstance(merged, PersonsMergedV1)
    assert merged.survivor_person_id == box_office
    assert merged.merged_person_ids == [shop]
    assert resolved_data(merge_outputs[1]).person_id == box_office


async def test_a_fact_delivered_twice_is_published_twice_with_one_id_and_creates_one_person(
    harness: IdentityHarness,
) -> None:
    fact = harness.fact("f1", email="luc@example.com", first_name="Luc")
    async with running_identity(harness) as app:
        await harness.publish([fact, fact])
        outputs = await harness.outputs(2)
        store = context_of(app).store
        assert next(envelope.id for envelope in outputs) == outputs[1].id
        person_id = resolved_data(outputs[0]).person_id
        assert resolved_data(outputs[1]).person_id == person_id
        person = await store.person(harness.organisation_id, person_id)
        assert person is not None
        assert person.created_by_event == "f1"


async def test_two_instances_flooded_with_the_same_new_people_create_one_person_each(
    harness: IdentityHarness,
) -> None:
    people = 30
    sources = ("billetterie-principale", "shopify-boutique", "mailchimp-principal", "dons")
    # Each person's facts carry different upstream ids, so their keys spread them over partitions and
    # instances: the two instances race to create the same people from the same email.
    facts = [
        harness.fact(f"p{person}-{source}", source=source, external_id=f"{source}-{person}", email=f"p{person}@ex.com")
        for source in sources
        for person in range(people)
    ]
    async with running_identity(harness) as first, running_identity(harness):
        await harness.publish(facts)
        outputs = await harness.outputs(len(facts))
        store = context_of(first).store
        resolved = [resolved_data(envelope) for envelope in outputs if envelope.type.endswith("resolved.v1")]
        assert len({data.original.id for data in resolved}) == len(facts)
        final_by_person: dict[str, set[str]] = {}
        for data in resolved:
            person = await active_person(store, harness.organisation_id, data.person_id)
            assert person is not None
            email = data.original.data["person"]["email"]
            final_by_person.setdefault(email, set()).add(person.person_id)
    assert all(len(persons) == 1 for persons in final_by_person.values()), final_by_person
    assert len({next(iter(persons)) for persons in final_by_person.values()}) == people


async def test_the_http_api_finds_a_person_by_email_and_undoes_a_merge(harness: IdentityHarness) -> None:
    async with running_identity(harness) as app:
        for fact in (
            harness.fact("f1", external_id="C-1", first_name="Élise"),
            harness.fact("f2", source="shopify-boutique", external_id="207", email="elise@example.com"),
        ):
            await harness.publish([fact])
            await harness.outputs(1)
        await harness.publish([harness.fact("f3", external_id="C-1", email="elise@example.com")])
        outputs = await harness.outputs(2)
        survivor = resolved_data(outputs[-1]).person_id
        issued = await app.state.runtime.tokens.issue(
            harness.organisation_id, {Scope.PROFILES_READ, Scope.IDENTITY_REVIEW}, "tests"
        )
        other = await app.state.runtime.tokens.issue(f"{harness.organisation_id}-other", {Scope.PROFILES_READ}, "x")
        headers = {"Authorization": f"Bearer {issued.token}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
            found = await client.get("/v1/persons", params={"email": " Elise@Example.com"}, headers=headers)
            assert found.status_code == 200, found.text
            body = found.json()
            assert body["person_id"] == survivor
            assert len(body["merges"]) == 1
            hidden = await client.get(f"/v1/persons/{survivor}", headers={"Authorization": f"Bearer {other.token}"})
            assert hidden.status_code == 404
            unauthenticated = await client.get(f"/v1/persons/{survivor}")
            assert unauthenticated.status_code == 401
            undone = await client.post(f"/v1/persons/{survivor}/unmerge", headers=headers)
            assert undone.status_code == 200, undone.text
            [unmerged] = await harness.outputs(1)
            assert unmerged.type == "parterre.person.unmerged.v1"
            assert unmerged.id == undone.json()["event_id"]
            split = await client.get(f"/v1/persons/{survivor}", headers=headers)
            assert split.json()["kept_apart_from"] == unmerged.data["restored_person_ids"]
            twice = await client.post(f"/v1/persons/{survivor}/unmerge", headers=headers)
            assert twice.status_code == 409
            assert twice.json()["detail"]["code"] == "nothing_to_unmerge"
            bad = await client.get("/v1/persons", params={"email": "x", "phone": "y"}, headers=headers)
            assert bad.status_code == 422
            assert set(bad.json()["detail"]["message"]) == {"en", "fr"}


async def test_an_export_of_a_person_is_logged_and_its_log_outlives_their_erasure(harness: IdentityHarness) -> None:
    async with running_identity(harness) as app:
        await harness.publish([harness.fact("f1", external_id="C-1", email="elise@example.com", first_name="Élise")])
        [resolved] = await harness.outputs(1)
        person_id = resolved_data(resolved).person_id
        tokens = app.state.runtime.tokens
        exporter = await tokens.issue(harness.organisation_id, {Scope.PRIVACY_EXPORT}, "privacy officer")
        reader = await tokens.issue(harness.organisation_id, {Scope.PROFILES_READ}, "box office")
        eraser = await tokens.issue(harness.organisation_id, {Scope.PRIVACY_ERASE}, "privacy officer")
        store = context_of(app).store
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
            path = f"/v1/persons/{person_id}/export"
            refused = await client.get(path, headers={"Authorization": f"Bearer {reader.token}"})
            assert refused.status_code == 403
            assert await store.exports_logged(harness.organisation_id, person_id) == []
            first = await client.get(path, headers={"Authorization": f"Bearer {exporter.token}"})
            assert first.status_code == 200, first.text
            body = first.json()
            assert body["person_id"] == person_id
            assert {identifier["type"] for identifier in body["identifiers"]} == {"email", "external_id"}
            assert body["earlier_exports"] == []
            second = (await client.get(path, headers={"Authorization": f"Bearer {exporter.token}"})).json()
            assert second["earlier_exports"] == [
                {"at": body["exported_at"], "requested_by": f"token:{exporter.token_id}", "identifiers": 2, "merges": 0}
            ]
            erased = await client.post(
                f"/v1/persons/{person_id}/erase", headers={"Authorization": f"Bearer {eraser.token}"}
            )
            assert erased.status_code == 200, erased.text
        logged = await store.exports_logged(harness.organisation_id, person_id)
        assert [entry["requested_by"] for entry in logged] == [f"token:{exporter.token_id}"] * 2
        assert [entry["at"].isoformat() for entry in logged] == [body["exported_at"], second["exported_at"]]
        # By digest: nothing the log keeps names the person erased.
        assert isinstance(store, MongoIdentityStore)
        kept = await store.database[PRIVACY_LOG].find({"organisation_id": harness.organisation_id}).to_list()
        assert len(kept) == 2
        assert person_id not in repr(kept)


async def test_a_fact_identity_cannot_read_goes_to_its_group_s_dead_letters_and_the_next_is_resolved(
    harness: IdentityHarness,
) -> None:
    # The group is the test's own, outside the catalog: its dead-letter topic exists only if the harness made it,
    # as a broker that creates no topic on demand requires.
    producer = AIOKafkaProducer(bootstrap_servers=harness.settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            harness.facts_topic, b"{not an event", key=b"k", headers=[(ORGANISATION_HEADER, b"theatre")]
        )
    finally:
        await producer.stop()
    await harness.publish([harness.fact("f-after", external_id="C-9", email="lea@example.com")])

    async with running_identity(harness):
        [resolved] = await harness.outputs(1)
        dead_letter_topic = dead_letter_topic_for(harness.settings.kafka_namespace + harness.group_id)
        [dead_letter] = await read_all(harness.settings.kafka_bootstrap, dead_letter_topic, 1, deadline_seconds=20)

    assert dead_letter.value == b"{not an event"
    assert resolved_data(resolved).person_id


async def test_a_body_that_cannot_be_read_is_refused_for_the_token_first(harness: IdentityHarness) -> None:
    async with running_identity(harness) as app:
        tokens = app.state.runtime.tokens
        reader = await tokens.issue(harness.organisation_id, {Scope.PROFILES_READ}, "box office")
        eraser = await tokens.issue(harness.organisation_id, {Scope.PRIVACY_ERASE}, "privacy officer")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:

            async def erase(body: bytes, token: str) -> httpx.Response:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                return await client.post("/v1/persons/p-unknown/erase", content=body, headers=headers)

            not_json, not_utf8 = b"{do_not_readd", b'{"do_not_readd": "\xe9"}'
            assert [(await erase(body, "prt_forged")).status_code for body in (not_json, not_utf8)] == [401, 401]
            refused = [await erase(body, reader.token) for body in (not_json, not_utf8)]
            assert [answer.status_code for answer in refused] == [403, 403]
            assert {answer.json()["detail"]["code"] for answer in refused} == {"forbidden"}
            # With the scope, the body's own refusal.
            unreadable = await erase(not_json, eraser.token)
            assert unreadable.status_code == 422
            assert [field["code"] for field in unreadable.json()["detail"]["fields"]] == ["json_invalid"]
            assert (await erase(not_utf8, eraser.token)).json()["detail"]["code"] == "unreadable_body"


def outdated_gauge(app: FastAPI, form: StoredForm) -> float | None:
    value = app.state.runtime.registry.get_sample_value(f"parterre_identity_{form.name}_outdated")
    return None if value is None else float(value)


async def _refile(app: FastAPI, organisation_id: str | None) -> None:
    await refile_blocks(context_of(app).deps.store, organisation_id)


async def _rekey(app: FastAPI, organisation_id: str | None) -> None:
    await rekey_identifiers(context_of(app).deps, organisation_id)


@pytest.mark.parametrize(
    ("form", "command", "bring_up_to_date"),
    [
        (BLOCK_FILING, "parterre identity refile-blocks", _refile),
        (ADDRESS_FORM, "parterre identity rekey-identifiers", _rekey),
    ],
    ids=["blocking keys", "addresses' written form"],
)
async def test_identity_reports_persons_stored_in_an_older_form_until_the_command_bringing_them_up_to_date_has_run(
    harness: IdentityHarness,
    caplog: pytest.LogCaptureFixture,
    form: StoredForm,
    command: str,
    bring_up_to_date: Callable[[FastAPI, str | None], Awaitable[None]],
) -> None:
    settings = harness.settings
    async with running_identity(harness) as app:
        # An empty store holds nothing stored in an older form, and records it.
        assert outdated_gauge(app, form) == 0
    async with mongo_client(settings.mongo_url, app_name="parterre-tests") as client:
        store = MongoIdentityStore(client[settings.mongo_database])
        assert await form.recorded(store) == form.current
        # A store an older release filled: persons, and no record of the form they are stored in.
        await client[settings.mongo_database][MAINTENANCE].delete_many({})
        await store_as_before(store, "per_frederic", normalised(**FREDERIC), organisation_id=harness.organisation_id)
        harness.settings = settings.model_copy(update={"identity_blocks_check_seconds": 0.05})

        with caplog.at_level(logging.INFO, logger="services.identity.bootstrap"):
            async with running_identity(harness) as app:
                assert outdated_gauge(app, form) == 1
                assert command in caplog.text
                await bring_up_to_date(app, harness.organisation_id)
                await asyncio.sleep(0.3)
                # One organisation brought up to date: others may still hold persons stored so.
                assert outdated_gauge(app, form) == 1
                await bring_up_to_date(app, None)
                assert await eventually(lambda: outdated_gauge(app, form) == 0)
        assert form.done in caplog.text


async def test_an_instance_keeps_as_many_patrons_in_memory_as_its_settings_say(harness: IdentityHarness) -> None:
    harness.settings = harness.settings.model_copy(update={"identity_cached_patrons": 100_000})
    async with running_identity(harness) as app:
        store = context_of(app).deps.store
        assert isinstance(store, MongoIdentityStore)
        # Persons, identifier owners and blocks, as `cached_patrons` sizes them.
        assert (store._persons._cache_size, store._cached_owners, store._blocks._cache_size) == (
            250_000,
            250_000,
            750_000,
        )
