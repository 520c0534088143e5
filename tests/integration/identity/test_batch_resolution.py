"""A consumer batch resolved together gives what one fact at a time gives, on both stores, even after a crash."""

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from bench.identity.synthetic import generate_audience
from bench.identity_resolution import facts_of_lines
from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.adapters.mongo import BLOCKS, INDEXES, MongoIdentityStore
from services.identity.adapters.versions import VersionedDocuments
from services.identity.domain.identifiers import Identifier, IdentifierType, identifiers_of
from services.identity.domain.matching import BLOCK_CAPACITY, blocking_keys
from services.identity.domain.merges import ReviewStatus
from services.identity.domain.normalise import normalise_record
from services.identity.domain.persons import PersonStatus, matching_record, person_id_for
from services.identity.handlers import (
    FactOutcome,
    IdentityDeps,
    PersonNotReadyError,
    active_person,
    erase_on_request,
    person_record,
    resolve_fact,
    resolve_facts,
)
from services.identity.ports import Decision, IdentityStore, JournalEntry
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import Envelope, PersonRef, build_envelope, event_type, kafka_key, parse_data
from shared.events.audience import AudienceFact, PersonDetailsUpdatedV1
from shared.events.identity import MatchMethod, PersonResolvedV1, PersonsMergedV1
from shared.mongo import Document, ensure_indexes, mongo_client
from tests.conftest import Servers
from tests.integration.command_log import CommandLog, database_logging_commands
from tests.integration.identity.conftest import ORGANISATION, START, details_fact, erasure_fact, last_resolution


class FixedClock:
    """Both runs must date their decisions alike, however many times each reads the clock."""

    def now(self) -> datetime:
        return START


class StoreFactory:
    def __init__(self, kind: str, servers: Servers | None) -> None:
        self._kind, self._servers = kind, servers
        self._databases: list[str] = []

    async def __call__(self) -> IdentityStore:
        if self._kind == "memory":
            return InMemoryIdentityStore()
        assert self._servers is not None
        name = f"test_{uuid.uuid4().hex[:12]}"
        self._databases.append(name)
        database: AsyncDatabase[Document] = self._client[name]
        await ensure_indexes(database, INDEXES)
        return MongoIdentityStore(database)

    async def __aenter__(self) -> "StoreFactory":
        if self._servers is not None:
            self._context = mongo_client(self._servers.mongo_url, app_name="parterre-tests")
            self._client = await self._context.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._servers is not None:
            for name in self._databases:
                await self._client.drop_database(name)
            await self._context.__aexit__(None, None, None)


@pytest.fixture(params=["memory", "mongo"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    servers: Servers | None = request.getfixturevalue("servers") if request.param == "mongo" else None
    async with StoreFactory(request.param, servers) as factory:
        yield factory


def deps_on(store: IdentityStore) -> IdentityDeps:
    return IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=FixedClock())


def fact(event_id: str, **person: Any) -> Envelope:
    return details_fact(event_id, **person)


# Settled before the batch: two persons a later fact names together, and a family address.
HISTORY = [
    fact("h1", external_id="C-1", email="elise.gagnon@example.com", first_name="Élise", last_name="Gagnon"),
    fact("h2", external_id="C-2", phone="514-555-0101", first_name="Élise", last_name="Gagnon"),
    fact("h3", external_id="C-3", email="famille.roy@example.com", first_name="Marc", last_name="Roy"),
]
# A batch with every kind of fact: new persons, links inside the batch, a look-alike, a merge, a household,
# an erasure, and one key with several facts.
BATCH = [
    fact("b1", external_id="C-10", email="jean.tremblay@example.com", first_name="Jean", last_name="Tremblay"),
    fact("b2", external_id="C-11", email="sophie.cote@example.com", first_name="Sophie", last_name="Côté"),
    fact("b3", source="mailchimp-principal", email="Jean.Tremblay@Example.com", first_name="Jean"),
    fact("b4", external_id="C-12", first_name="Luc", last_name="Bergeron", postal_code="H2X 1Y4"),
    fact("b5", external_id="C-1", phone="514-555-0101", first_name="Élise", last_name="Gagnon"),
    fact("b6", external_id="C-13", email="famille.roy@example.com", first_name="Julie", last_name="Roy"),
    fact("b7", external_id="C-14", email="marie.lavoie@example.com", first_name="Marie", last_name="Lavoie"),
    fact("b8", external_id="C-15", first_name="Luc", last_name="Bergeron", postal_code="H2X1Y4"),
    erasure_fact("b9", do_not_readd=False, external_id="C-11", email="sophie.cote@example.com"),
    fact("b10", external_id="C-16", email="sophie.cote@example.com", first_name="Sophie", last_name="Côté"),
    fact("b11", external_id="C-14", phone="418-555-0199", first_name="Marie", last_name="Lavoie"),
    fact("b12", external_id="C-17", email="paul.gauthier@example.com", first_name="Paul", last_name="Gauthier"),
]


def lanes_of(facts: Sequence[Envelope]) -> list[object]:
    """The Kafka key ingest gives a fact: its upstream customer."""
    lanes: list[object] = []
    for envelope in facts:
        data = parse_data(envelope)
        assert isinstance(data, AudienceFact)
        lanes.append(data.person.external_id or envelope.id)
    return lanes


async def one_at_a_time(facts: Sequence[Envelope], deps: IdentityDeps) -> dict[str, FactOutcome]:
    return {envelope.id: await resolve_fact(envelope, deps) for envelope in facts}


async def as_a_batch(facts: Sequence[Envelope], deps: IdentityDeps) -> dict[str, FactOutcome]:
    """As the consumer does it: the batch first, then what it left, one at a time and in order."""
    outcomes = await resolve_facts(facts, lanes_of(facts), deps)
    return {
        envelope.id: outcome if outcome is not None else await resolve_fact(envelope, deps)
        for envelope, outcome in zip(facts, outcomes, strict=True)
    }


def wire(outcomes: dict[str, FactOutcome]) -> dict[str, list[dict[str, Any]]]:
    return {event_id: [envelope.to_wire() for envelope in outcome.outputs] for event_id, outcome in outcomes.items()}


def by_key(events: Iterable[Envelope]) -> dict[str, list[dict[str, Any]]]:
    """Each Kafka key's events, in the order given: what a consumer of the topic is promised."""
    keyed: dict[str, list[dict[str, Any]]] = {}
    for envelope in events:
        keyed.setdefault(f"{event_type(envelope.type).topic.name}/{kafka_key(envelope)}", []).append(envelope.to_wire())
    return keyed


async def persons_named(outcomes: dict[str, FactOutcome], store: IdentityStore) -> dict[str, Any]:
    ids: set[str] = set()
    for outcome in outcomes.values():
        for envelope in outcome.outputs:
            data = parse_data(envelope)
            if isinstance(data, PersonResolvedV1):
                ids.add(data.person_id)
            elif isinstance(data, PersonsMergedV1):
                ids |= {data.survivor_person_id, *data.merged_person_ids}
    persons = {}
    for person_id in sorted(ids):
        person = await store.person(ORGANISATION, person_id)
        # Versions count writes, which batching saves: everything else must be the same.
        persons[person_id] = None if person is None else replace(person, version=0)
    return persons


@dataclass(frozen=True)
class Compared:
    reference: IdentityDeps
    batched: IdentityDeps
    expected: dict[str, FactOutcome]
    got: dict[str, FactOutcome]


async def resolved_whole_as_one_at_a_time(
    stores: StoreFactory, history: Sequence[Envelope], facts: Sequence[Envelope], *, rounds: list[int] | None = None
) -> Compared:
    """`facts` one at a time on one store and as one batch on another, both after `history`: the batch leaves
    none of them to one at a time, and gives the same events and persons. `rounds`, if given, gets the number of
    facts each round of the batch journaled."""
    reference, batched = deps_on(await stores()), deps_on(await stores())
    await one_at_a_time(history, reference)
    await one_at_a_time(history, batched)
    expected = await one_at_a_time(facts, reference)
    if rounds is not None:
        journal = batched.store.write_journals

        async def journaled(entries: Sequence[JournalEntry], *, batch_id: str | None = None) -> list[bool]:
            rounds.append(len(entries))
            return await journal(entries, batch_id=batch_id)

        batched.store.write_journals = journaled  # type: ignore[method-assign]
    outcomes = await resolve_facts(facts, lanes_of(facts), batched)
    assert all(outcome is not None for outcome in outcomes)
    got = {envelope.id: outcome for envelope, outcome in zip(facts, outcomes, strict=True) if outcome is not None}
    assert wire(got) == wire(expected)
    assert await persons_named(got, batched.store) == await persons_named(expected, reference.store)
    return Compared(reference, batched, expected, got)


async def test_a_batch_gives_the_same_persons_and_outputs_as_its_facts_one_at_a_time(stores: StoreFactory) -> None:
    reference, batched = deps_on(await stores()), deps_on(await stores())
    await one_at_a_time(HISTORY, reference)
    await one_at_a_time(HISTORY, batched)
    expected = await one_at_a_time(BATCH, reference)
    got = await as_a_batch(BATCH, batched)
    assert wire(got) == wire(expected)
    assert await persons_named(got, batched.store) == await persons_named(expected, reference.store)


async def test_a_generated_audience_in_batches_of_any_size_gives_what_one_fact_at_a_time_gives(
    stores: StoreFactory,
) -> None:
    # Typos, nicknames, moves, family addresses, walk-up buyers: links, look-alikes, merges, households and review
    # suggestions a batch makes together, in batches of any size, as a consumer meets them.
    store = await stores()
    people = 600 if isinstance(store, InMemoryIdentityStore) else 150
    lines = (json.dumps(record.as_input(), ensure_ascii=False) for record in generate_audience(people, seed=23))
    facts = list(facts_of_lines(lines, ORGANISATION))
    reference, batched = deps_on(await stores()), deps_on(store)
    expected = await one_at_a_time(facts, reference)
    sizes = random.Random(23)
    got: dict[str, FactOutcome] = {}
    published: list[Envelope] = []

    async def publish(outputs: tuple[Envelope, ...]) -> None:
        published.extend(outputs)

    together = 0
    while len(got) < len(facts):
        batch = facts[len(got) : len(got) + sizes.randint(1, 300)]
        outcomes = await resolve_facts(batch, lanes_of(batch), batched, publish)
        together += sum(outcome is not None for outcome in outcomes)
        for envelope, outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                # As the consumer does: what the batch left, one at a time, published as each is resolved.
                outcome = await resolve_fact(envelope, batched)
                published.extend(outcome.outputs)
            got[envelope.id] = outcome
    assert wire(got) == wire(expected)
    assert by_key(published) == by_key(envelope for outcome in expected.values() for envelope in outcome.outputs)
    assert await persons_named(got, batched.store) == await persons_named(expected, reference.store)
    decisions = [outcome.decision for outcome in got.values() if outcome.decision is not None]
    made = Counter(outcome.outcome for outcome in got.values())
    made.update(
        kind
        for decision in decisions
        for kind, made_here in (
            ("merge", decision.merge is not None),
            ("household", decision.household_with is not None),
            ("review", decision.review is not None),
        )
        if made_here
    )
    assert all(made[kind] > 0 for kind in ("probabilistic", "merge", "household", "review")), made
    assert together >= 0.9 * len(facts)


async def test_the_persons_batches_store_are_read_back_by_their_store_as_by_a_store_that_never_saw_them(
    servers: Servers,
) -> None:
    # The store keeps the persons it wrote as written, not decoded again (see `MongoIdentityStore._decoded`).
    lines = (json.dumps(record.as_input(), ensure_ascii=False) for record in generate_audience(150, seed=29))
    facts = list(facts_of_lines(lines, ORGANISATION))
    async with StoreFactory("mongo", servers) as stores:
        deps = deps_on(await stores())
        outcomes = [
            outcome
            for start in range(0, len(facts), 100)
            for outcome in (await as_a_batch(facts[start : start + 100], deps)).values()
        ]
        store = deps.store
        assert isinstance(store, MongoIdentityStore)
        person_ids = sorted({outcome.decision.person_id for outcome in outcomes if outcome.decision is not None})
        fresh = MongoIdentityStore(store.database)
        assert len(person_ids) > 100
        for person_id in person_ids:
            assert await store.person(ORGANISATION, person_id) == await fresh.person(ORGANISATION, person_id)


async def test_a_batch_without_contention_is_resolved_whole_and_the_same_as_one_at_a_time(
    stores: StoreFactory,
) -> None:
    facts = [
        # Nom0, Nom1...: one sound, so one blocking key per e-mail domain; one domain each keeps them apart.
        fact(f"n{n}", external_id=f"N-{n}", email=f"patron{n}@example{n}.com", first_name="Anne", last_name=f"Nom{n}")
        for n in range(20)
    ]
    await resolved_whole_as_one_at_a_time(stores, [], facts)


async def test_households_and_review_suggestions_are_made_in_the_batch_as_one_at_a_time_would(
    stores: StoreFactory,
) -> None:
    history = [
        *HISTORY,
        fact("h4", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1"),
    ]
    facts = [
        fact("r1", external_id="C-20", email="famille.roy@example.com", first_name="Julie", last_name="Roy"),
        fact("r2", external_id="C-21", first_name="L", last_name="Roy", postal_code="H2J 2L1"),
        fact("r3", external_id="C-22", email="paul.gauthier@example.com", first_name="Paul", last_name="Gauthier"),
    ]
    compared = await resolved_whole_as_one_at_a_time(stores, history, facts)
    household, review = compared.got["r1"].decision, compared.got["r2"].decision
    assert household is not None
    assert household.household_with is not None
    assert review is not None
    assert review.review is not None
    assert await compared.batched.store.reviews(
        ORGANISATION, ReviewStatus.PENDING, 10
    ) == await compared.reference.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)


NEWSLETTER = "mailchimp-principal"


def address_changed(event_id: str, *, old: str, new: str, new_id: str) -> Envelope:
    """A Mailchimp `upemail` as ingest publishes it: the new address and member id, the old address beside, and no
    merge field."""
    changed = PersonDetailsUpdatedV1(
        person=PersonRef(source=NEWSLETTER, external_id=new_id, email=new),
        previous_email=old,
        changed_fields=["email", "external_id"],
    )
    source = f"/orgs/{ORGANISATION}/sources/{NEWSLETTER}"
    return build_envelope(changed, organisation_id=ORGANISATION, source=source, id=event_id, time=START)


async def test_an_address_change_off_a_household_s_shared_address_goes_to_its_member_in_the_batch_as_one_at_a_time(
    stores: StoreFactory,
) -> None:
    history = [
        # Marie gives the Tremblays' address first and holds it; Luc subscribes to the newsletter with it.
        fact("t1", external_id="C-40", email="famille@example.com", first_name="Marie", last_name="Tremblay"),
        fact("t2", source=NEWSLETTER, external_id="8a25ff1d98", email="famille@example.com", first_name="Luc"),
        # The Côtés share theirs at the box office only: nothing tells which of them the newsletter knows.
        fact("t3", external_id="C-41", email="famille.cote@example.com", first_name="Sophie", last_name="Côté"),
        fact("t4", external_id="C-42", email="famille.cote@example.com", first_name="Paul", last_name="Côté"),
    ]
    facts = [
        address_changed("u1", old="famille@example.com", new="luc@example.com", new_id="51da8c3259"),
        # Later news of the member, by the new address and id, follows whoever the change went to.
        fact("u2", source=NEWSLETTER, external_id="51da8c3259", email="luc@example.com"),
        address_changed("u3", old="famille.cote@example.com", new="paul@example.com", new_id="7c1e0f9a42"),
    ]

    compared = await resolved_whole_as_one_at_a_time(stores, history, facts)

    marie, luc, sophie = (person_id_for(ORGANISATION, event_id) for event_id in ("t1", "t2", "t3"))
    moved, later = resolved_of(compared.got["u1"]), resolved_of(compared.got["u2"])
    assert (moved.person_id, later.person_id) == (luc, luc)
    assert moved.person_id != marie
    undecided = compared.got["u3"].decision
    assert undecided is not None
    assert (undecided.created, undecided.method) == (True, MatchMethod.REVIEW_PENDING)
    assert undecided.household_with == sophie
    assert await compared.batched.store.reviews(
        ORGANISATION, ReviewStatus.PENDING, 10
    ) == await compared.reference.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    [review] = await compared.batched.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    assert review.person_id == undecided.person_id


async def test_a_merge_is_made_in_the_batch_and_a_fact_naming_the_merged_person_follows_it_as_one_at_a_time_would(
    stores: StoreFactory,
) -> None:
    facts = [
        fact("m1", external_id="C-30", email="anne.cyr@example.com", first_name="Anne", last_name="Cyr"),
        # Élise's box-office account (h1) and her phone (h2's): her two persons become one.
        fact("m2", external_id="C-1", phone="514-555-0101", first_name="Élise", last_name="Gagnon"),
        # The person merged in, named by its own account: resolved after the merge, to the survivor.
        fact("m3", external_id="C-2", first_name="Élise", last_name="Gagnon", postal_code="H2X 1Y4"),
    ]
    # None left to one at a time: the merge too is made in the batch.
    compared = await resolved_whole_as_one_at_a_time(stores, HISTORY, facts)

    merging = compared.expected["m2"].decision
    assert merging is not None
    assert merging.merge is not None
    assert await compared.batched.store.merge(ORGANISATION, merge_id_of(compared.got["m2"])) is not None
    # The survivor is filed under the blocks of the records it took, as one at a time files it.
    keys = sorted({key for envelope in [*HISTORY, *facts] for key in keys_of(envelope)})
    assert await compared.batched.store.block_members(
        ORGANISATION, keys
    ) == await compared.reference.store.block_members(ORGANISATION, keys)


async def test_a_merge_redelivered_with_its_batch_is_made_once_and_told_the_same(stores: StoreFactory) -> None:
    deps = deps_on(await stores())
    await one_at_a_time(HISTORY, deps)
    facts = [fact("m2", external_id="C-1", phone="514-555-0101", first_name="Élise", last_name="Gagnon")]
    first = await resolve_facts(facts, lanes_of(facts), deps)
    again = await as_a_batch(facts, deps)

    (outcome,) = first
    assert outcome is not None
    assert wire({"m2": outcome}) == wire(again)
    person = await deps.store.person(ORGANISATION, resolved_of(outcome).person_id)
    assert person is not None
    assert len(await deps.store.merges_involving(ORGANISATION, person.person_id)) == 1


def keys_of(envelope: Envelope) -> tuple[str, ...]:
    data = parse_data(envelope)
    assert isinstance(data, AudienceFact)
    return blocking_keys(matching_record(normalise_record(person_record(data.person), today=START.date())))


def merge_id_of(outcome: FactOutcome) -> str:
    merged = parse_data(outcome.outputs[0])
    assert isinstance(merged, PersonsMergedV1)
    return merged.merge_id


def resolved_of(outcome: FactOutcome) -> PersonResolvedV1:
    data = parse_data(last_resolution(outcome.outputs))
    assert isinstance(data, PersonResolvedV1)
    return data


async def test_a_fact_that_looked_for_look_alikes_waits_for_one_its_round_files_as_one_at_a_time_would(
    stores: StoreFactory,
) -> None:
    # The newsletter knows Diane's email. A walk-up buyer with her name and postal code, then her box-office account
    # with the email and the postal code: one at a time, the account's fact finds the walk-up among its look-alikes
    # and they are one. Side by side in a round, it would look before the walk-up is filed and find nobody.
    history = [fact("d1", source="mailchimp-principal", email="diane.jacob@example.com", first_name="Diane")]
    facts = [
        fact("d2", first_name="Diane", last_name="Jacob", postal_code="H3H 1Z4", birth_date="1952-05-11"),
        fact(
            "d3",
            external_id="C-4439",
            email="diane.jacob@example.com",
            first_name="Diane",
            last_name="Jacob",
            postal_code="H3H 1Z4",
        ),
    ]
    reference, batched = deps_on(await stores()), deps_on(await stores())
    await one_at_a_time(history, reference)
    await one_at_a_time(history, batched)
    expected = await one_at_a_time(facts, reference)
    decision = expected["d3"].decision
    assert decision is not None
    assert decision.merge is not None
    got = await as_a_batch(facts, batched)
    assert wire(got) == wire(expected)
    assert await persons_named(got, batched.store) == await persons_named(expected, reference.store)


async def test_new_patrons_sharing_a_block_are_created_in_one_round_when_neither_is_a_look_alike_of_the_other(
    stores: StoreFactory,
) -> None:
    # Same family name, same postal code: one block. Marie looks there for look-alikes while Jean's new person is
    # filed there; she is decided again with him in it, as one at a time would see him, and nothing changes.
    facts = [
        fact(
            "t1",
            external_id="C-40",
            email="jean.tremblay@example.com",
            first_name="Jean",
            last_name="Tremblay",
            postal_code="H2X 1Y4",
        ),
        fact(
            "t2",
            external_id="C-41",
            email="marie.tremblay@exemple.ca",
            first_name="Marie",
            last_name="Tremblay",
            postal_code="H2X 1Y4",
        ),
    ]
    assert set(keys_of(facts[0])) & set(keys_of(facts[1]))
    rounds: list[int] = []
    compared = await resolved_whole_as_one_at_a_time(stores, [], facts, rounds=rounds)
    assert rounds == [2]
    decisions = [compared.got[envelope.id].decision for envelope in facts]
    assert all(decision is not None and decision.created for decision in decisions)


async def test_a_fact_that_read_a_look_alike_its_round_adds_to_goes_in_that_round_when_still_someone_else(
    stores: StoreFactory,
) -> None:
    # Luc is known. His shop order adds his phone to him while Anne, new, of the same family name and postal code,
    # looks for look-alikes and reads him: decided again with his new details, she is still someone else.
    history = [
        fact(
            "l1",
            external_id="C-60",
            email="luc.bergeron@example.com",
            first_name="Luc",
            last_name="Bergeron",
            postal_code="H2X 1Y4",
        )
    ]
    facts = [
        fact(
            "l2",
            source="shopify-boutique",
            email="luc.bergeron@example.com",
            phone="514-555-0177",
            first_name="Luc",
            last_name="Bergeron",
            postal_code="H2X 1Y4",
        ),
        fact(
            "l3",
            external_id="C-61",
            email="anne.bergeron@exemple.ca",
            first_name="Anne",
            last_name="Bergeron",
            postal_code="H2X 1Y4",
        ),
    ]
    rounds: list[int] = []
    compared = await resolved_whole_as_one_at_a_time(stores, history, facts, rounds=rounds)
    assert rounds == [2]
    linked, anne = compared.got["l2"].decision, compared.got["l3"].decision
    assert linked is not None
    assert not linked.created
    assert anne is not None
    assert anne.created


async def test_a_fact_waits_for_a_known_person_its_round_files_under_the_blocks_it_read_as_one_at_a_time_would(
    stores: StoreFactory,
) -> None:
    # The newsletter knows Diane by her email and first name. Her box-office account links to her and files her
    # under her family name and postal code; a walk-up buyer with that name and postal code, later in the batch,
    # read that block before. Decided again, it must find Diane there: it waits for the next round.
    history = [fact("d1", source="mailchimp-principal", email="diane.jacob@example.com", first_name="Diane")]
    facts = [
        fact(
            "d2",
            external_id="C-4439",
            email="diane.jacob@example.com",
            first_name="Diane",
            last_name="Jacob",
            postal_code="H3H 1Z4",
        ),
        fact("d3", first_name="Diane", last_name="Jacob", postal_code="H3H 1Z4", birth_date="1952-05-11"),
    ]
    rounds: list[int] = []
    compared = await resolved_whole_as_one_at_a_time(stores, history, facts, rounds=rounds)
    assert rounds == [1, 1]
    linked, walk_up = compared.got["d2"].decision, compared.got["d3"].decision
    assert linked is not None
    assert walk_up is not None
    # Found, not taken for someone new.
    assert not walk_up.created or walk_up.review is not None
    assert walk_up.person_id == linked.person_id or walk_up.review is not None


async def test_a_fact_whose_block_a_new_person_of_its_round_fills_waits_and_no_longer_searches_it(
    stores: StoreFactory,
) -> None:
    # A walk-up buyer known by her street address alone, whose address's block holds one place fewer than it can.
    marie = {"first_name": "Marie", "last_name": "Côté", "street": "100, rue Principale", "city": "Rimouski"}
    history = [fact("a1", **marie)]
    facts = [
        # A neighbour at the same address, new: the block is full once he is filed there.
        fact("a2", first_name="Paul", last_name="Roy", street="100, rue Principale", city="Rimouski"),
        # Marie again: the round read the block with her in it, but one at a time, after Paul, it is not searched.
        fact("a3", **marie),
    ]
    (address_key,) = [key for key in keys_of(history[0]) if key.startswith("sa:")]
    reference, batched = deps_on(await stores()), deps_on(await stores())
    for deps in (reference, batched):
        await one_at_a_time(history, deps)
        neighbours = [([address_key], f"per_neighbour_{n}") for n in range(BLOCK_CAPACITY - 2)]
        await deps.store.add_to_blocks_all(ORGANISATION, neighbours)
    expected = await one_at_a_time(facts, reference)
    got = await as_a_batch(facts, batched)
    assert wire(got) == wire(expected)
    again = expected["a3"].decision
    assert again is not None
    assert again.created


async def test_a_redelivered_batch_publishes_the_same_events_and_creates_nobody_new(stores: StoreFactory) -> None:
    deps = deps_on(await stores())
    await one_at_a_time(HISTORY, deps)
    first = await as_a_batch(BATCH, deps)
    persons = await persons_named(first, deps.store)
    again = await as_a_batch(BATCH, deps)
    assert wire(again) == wire(first)
    assert await persons_named(again, deps.store) == persons
    later = parse_data(
        last_resolution((await resolve_fact(fact("later", email="jean.tremblay@example.com"), deps)).outputs)
    )
    creation = parse_data(last_resolution(first["b1"].outputs))
    assert isinstance(later, PersonResolvedV1)
    assert isinstance(creation, PersonResolvedV1)
    assert later.person_id == creation.person_id


class CrashError(Exception):
    pass


class CrashingStore:
    """The real store, until the batch reaches `step`: then the process "dies" there."""

    def __init__(self, store: IdentityStore, step: str) -> None:
        self._store, self._step = store, step

    def __getattr__(self, name: str) -> Any:
        if name == self._step:

            async def crash(*args: object, **kwargs: object) -> None:
                raise CrashError(name)

            return crash
        return getattr(self._store, name)


@pytest.mark.parametrize(
    "step",
    [
        "claim_all",
        "write_persons",
        "add_to_blocks_all",
        "join_households",
        "mark_all_applied",
    ],
)
async def test_a_batch_that_crashed_midway_is_finished_by_its_redelivery_as_if_nothing_happened(
    stores: StoreFactory, step: str
) -> None:
    reference, deps = deps_on(await stores()), deps_on(await stores())
    await one_at_a_time(HISTORY, reference)
    await one_at_a_time(HISTORY, deps)
    expected = await one_at_a_time(BATCH, reference)
    crashing = replace(deps, store=CrashingStore(deps.store, step))
    with pytest.raises(CrashError):
        await as_a_batch(BATCH, crashing)
    got = await as_a_batch(BATCH, deps)
    assert wire(got) == wire(expected)
    assert await persons_named(got, deps.store) == await persons_named(expected, reference.store)


async def test_a_fact_whose_entry_a_batch_wrote_is_applied_only_if_the_batch_recorded_it(stores: StoreFactory) -> None:
    # A batch writes the entries of a round, then leaves some to be decided again one at a time (a claim someone
    # else made first): its record names only those it applied, and only entries it wrote count.
    store = await stores()
    decision = Decision("per_1", True, MatchMethod.NEW, 1.0, (), (), None, None, None, None)
    entries = [JournalEntry(ORGANISATION, event_id, decision, START) for event_id in ("kept", "left", "earlier")]
    # Written before, by another delivery of the fact.
    await store.write_journal(JournalEntry(ORGANISATION, "earlier", decision, START))
    async with store.trusting({ORGANISATION}):
        assert await store.write_journals(entries, batch_id="b1") == [True, True, False]
        await store.mark_all_applied(ORGANISATION, ["kept", "earlier"], batch_id="b1")
    read = [await store.journal_entry(ORGANISATION, entry.event_id) for entry in entries]
    assert [(entry.event_id, entry.applied) for entry in read if entry is not None] == [
        ("kept", True),
        ("left", False),
        ("earlier", False),
    ]
    # Applied one at a time afterwards, each records itself.
    for event_id in ("left", "earlier"):
        await store.mark_applied(ORGANISATION, event_id)
        entry = await store.journal_entry(ORGANISATION, event_id)
        assert entry is not None
        assert entry.applied


async def test_a_batch_sends_its_outputs_while_the_store_records_its_facts_applied(servers: Servers) -> None:
    async with StoreFactory("mongo", servers) as stores:
        reference, deps = deps_on(await stores()), deps_on(await stores())
        await one_at_a_time(HISTORY, reference)
        await one_at_a_time(HISTORY, deps)
        expected = await as_a_batch(BATCH, reference)
        published: list[Envelope] = []

        async def all_recorded() -> bool:
            entries = [await deps.store.journal_entry(ORGANISATION, envelope.id) for envelope in BATCH]
            return all(entry is None or entry.applied for entry in entries)

        async def publish_once_recorded(outputs: tuple[Envelope, ...]) -> None:
            # Returns once the store holds the record that the facts were applied: a batch that made that record
            # only after its outputs were sent would wait here until the test's time is out.
            for _attempt in range(2000):
                if await all_recorded():
                    break
                await asyncio.sleep(0.01)
            published.extend(outputs)

        async with asyncio.timeout(10):
            outcomes = await resolve_facts(BATCH, lanes_of(BATCH), deps, publish_once_recorded)

    resolved = [(envelope, outcome) for envelope, outcome in zip(BATCH, outcomes, strict=True) if outcome is not None]
    assert len(resolved) >= 3
    # Once, every output of the facts the batch resolved, in their order.
    assert [envelope.to_wire() for envelope in published] == [
        envelope.to_wire() for _fact, outcome in resolved for envelope in outcome.outputs
    ]
    assert wire({fact.id: outcome for fact, outcome in resolved}) == wire(
        {fact.id: expected[fact.id] for fact, _outcome in resolved}
    )


async def test_a_batch_whose_outputs_could_not_be_published_is_finished_by_its_redelivery(
    stores: StoreFactory,
) -> None:
    reference, deps = deps_on(await stores()), deps_on(await stores())
    await one_at_a_time(HISTORY, reference)
    await one_at_a_time(HISTORY, deps)
    expected = await one_at_a_time(BATCH, reference)

    async def kafka_down(_outputs: tuple[Envelope, ...]) -> None:
        raise CrashError("publish")

    with pytest.raises(CrashError):
        await resolve_facts(BATCH, lanes_of(BATCH), deps, kafka_down)
    got = await as_a_batch(BATCH, deps)
    assert wire(got) == wire(expected)
    assert await persons_named(got, deps.store) == await persons_named(expected, reference.store)


async def test_a_batch_that_fails_recording_its_facts_applied_stops_publishing_and_says_why(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with StoreFactory("mongo", servers) as stores:
        deps = deps_on(await stores())
        await one_at_a_time(HISTORY, deps)
        sending = asyncio.Event()
        stopped: list[str] = []

        async def publish_slowly(_outputs: tuple[Envelope, ...]) -> None:
            sending.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                stopped.append("cancelled")
                raise

        async def extension_fails(*_arguments: object) -> bool:
            # The record goes in the insert that extends the epoch.
            await asyncio.sleep(0.05)
            raise CrashError("append_after")

        monkeypatch.setattr(VersionedDocuments, "append_after", extension_fails)
        async with asyncio.timeout(10):
            with pytest.raises(CrashError):
                await resolve_facts(BATCH, lanes_of(BATCH), deps, publish_slowly)
    # The send had begun, and no task is left sending for a batch that failed.
    assert sending.is_set()
    assert stopped == ["cancelled"]


@pytest.fixture
async def logged_database(servers: Servers) -> AsyncIterator[tuple[AsyncDatabase[Document], CommandLog]]:
    async with database_logging_commands(servers.mongo_url, INDEXES) as logged:
        yield logged


FIRST_NAMES = (
    "Anne",
    "Benoît",
    "Chloé",
    "Denis",
    "Élodie",
    "François",
    "Gabrielle",
    "Hugo",
    "Isabelle",
    "Julien",
    "Karine",
    "Laurent",
    "Mélanie",
    "Nicolas",
    "Océane",
    "Pascal",
    "Quentin",
    "Rosalie",
    "Sébastien",
    "Thérèse",
)


def patrons(count: int, *, source: str, prefix: str) -> list[Envelope]:
    """Facts about `count` people of one family name and postal code, so that their look-alike blocks meet."""
    return [
        fact(
            f"{prefix}{n}",
            source=source,
            external_id=f"{source}-{n}",
            email=f"patron{n}@example.com",
            first_name=FIRST_NAMES[n],
            last_name="Tremblay",
            postal_code="H2X 1Y4",
        )
        for n in range(count)
    ]


async def test_a_batch_reads_each_stored_document_once_and_writes_per_round_not_per_fact(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    deps = deps_on(MongoIdentityStore(database))
    await one_at_a_time(patrons(8, source="billetterie-principale", prefix="h"), deps)
    # The same people again, from another source: each fact links to a known person, and all of them read
    # the family's shared blocks; a second fact about one person waits for the first, a round later.
    batch = patrons(8, source="shopify-boutique", prefix="s") + patrons(8, source="mailchimp-principal", prefix="m")
    log.commands.clear()
    outcomes = await resolve_facts(batch, lanes_of(batch), deps)
    assert [envelope.id for envelope, outcome in zip(batch, outcomes, strict=True) if outcome is None] == []
    found = log.found_ids()
    assert len(found) == len(set(found)), sorted(_id for _id in found if found.count(_id) > 1)
    # Journal entries, persons, blocks and applied marks: one insert each per round (two here), not one per fact;
    # and the organisation's epoch, once for the batch.
    assert log.count("insert") <= 4 * 2 + 1, log.count("insert")
    assert log.count("update") + log.count("delete") == 0


async def test_a_fact_resolved_alone_files_all_its_blocking_keys_with_one_insert(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    [alone] = patrons(1, source="billetterie-principale", prefix="a")
    outcomes = await one_at_a_time([alone], deps_on(MongoIdentityStore(database)))
    decision = outcomes[alone.id].decision
    assert decision is not None
    blocks = await database[BLOCKS].find({}).to_list()
    # Names, postal code and email each give keys: several blocks, every one listing the new person.
    assert len(blocks) > 1, blocks
    assert {tuple(block["members"]) for block in blocks} == {(decision.person_id,)}
    assert log.count("insert", BLOCKS) == 1, log.count("insert", BLOCKS)


async def as_a_batch_retried(facts: Sequence[Envelope], deps: IdentityDeps) -> dict[str, FactOutcome]:
    """`as_a_batch`, with the consumer's retry of a fact whose identifier another instance is still turning into
    a person (it claimed the identifier a moment ago and has not stored the person yet)."""
    outcomes = await resolve_facts(facts, lanes_of(facts), deps)
    resolved = {}
    for envelope, outcome in zip(facts, outcomes, strict=True):
        for _attempt in range(20):
            try:
                resolved[envelope.id] = outcome if outcome is not None else await resolve_fact(envelope, deps)
                break
            except PersonNotReadyError:
                await asyncio.sleep(0.05)
    return resolved


async def test_two_instances_batching_the_same_new_people_at_once_create_one_person_each_and_redeliveries_nobody(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, _log = logged_database
    # Two processes: each its own store adapter (with its own memory of versions) on one database.
    first, second = deps_on(MongoIdentityStore(database)), deps_on(MongoIdentityStore(database))
    boutique = patrons(20, source="shopify-boutique", prefix="s")
    box_office = patrons(20, source="billetterie-principale", prefix="b")
    got_boutique, got_box_office = await asyncio.gather(
        as_a_batch_retried(boutique, first), as_a_batch_retried(box_office, second)
    )
    persons = {}
    for n in range(20):
        pair = set()
        for outcome in (got_boutique[f"s{n}"], got_box_office[f"b{n}"]):
            resolved = parse_data(last_resolution(outcome.outputs))
            assert isinstance(resolved, PersonResolvedV1)
            person = await active_person(first.store, ORGANISATION, resolved.person_id)
            assert person is not None
            pair.add(person.person_id)
        assert len(pair) == 1, (n, pair)
        persons[n] = pair.pop()
    assert len(set(persons.values())) == 20
    # Redelivered to the other instance (a partition reassigned): the same events, nobody new.
    again = await as_a_batch_retried(boutique, second)
    assert wire(again) == wire(got_boutique)
    for n in range(20):
        owner = await second.store.owner_of(ORGANISATION, Identifier(IdentifierType.EMAIL, f"patron{n}@example.com"))
        assert owner is not None
        found = await active_person(second.store, ORGANISATION, owner)
        assert found is not None
        assert found.person_id == persons[n]


async def test_an_owner_seen_before_is_not_looked_up_again_while_its_person_still_holds_the_identifier(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    deps = deps_on(MongoIdentityStore(database))
    await one_at_a_time(patrons(8, source="billetterie-principale", prefix="h"), deps)
    batch = patrons(8, source="shopify-boutique", prefix="s")
    log.commands.clear()
    outcomes = await resolve_facts(batch, lanes_of(batch), deps)
    assert all(outcome is not None for outcome in outcomes)
    looked_up = [
        command["filter"]
        for name, command in log.commands
        if name == "find" and command["find"] == "identity_identifiers"
    ]
    # One listing of the organisation's identifiers, and no identifier looked up one by one: the emails' owners
    # were seen when they were claimed, and the boutique's customer ids, new here, are not in the listing.
    assert looked_up == [{"organisation_id": ORGANISATION}]
    customer_ids = [
        Identifier(IdentifierType.EXTERNAL_ID, f"shopify-boutique-{n}", "shopify-boutique") for n in range(8)
    ]
    assert all(customer.digest.key in str(log.commands) for customer in customer_ids), "claimed in the batch"


async def test_an_owner_seen_before_its_person_was_erased_elsewhere_is_looked_up_again(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, _log = logged_database
    knew, elsewhere = deps_on(MongoIdentityStore(database)), deps_on(MongoIdentityStore(database))
    email = "anne@example.com"
    first = await one_at_a_time([fact("e1", email=email, first_name="Anne", last_name="Tremblay")], knew)
    erased = parse_data(last_resolution(first["e1"].outputs))
    assert isinstance(erased, PersonResolvedV1)
    await erase_on_request(ORGANISATION, erased.person_id, elsewhere, do_not_readd=False, requested_by="anne")
    second = await one_at_a_time([fact("e2", email=email, first_name="Anne", last_name="Tremblay")], elsewhere)
    now = parse_data(last_resolution(second["e2"].outputs))
    assert isinstance(now, PersonResolvedV1)
    assert now.person_id != erased.person_id

    third = await as_a_batch([fact("e3", email=email, first_name="Anne", last_name="Tremblay")], knew)
    resolved = parse_data(last_resolution(third["e3"].outputs))
    assert isinstance(resolved, PersonResolvedV1)
    assert resolved.person_id == now.person_id
    gone = await MongoIdentityStore(database).person(ORGANISATION, erased.person_id)
    assert gone is not None
    assert gone.status is PersonStatus.ERASED
    assert gone.records == ()


class StolenBeforeClaim:
    """The real store, but another process claims one of the batch's identifiers just before the batch does."""

    def __init__(self, store: IdentityStore, thief: Callable[[], Awaitable[object]]) -> None:
        self._store, self._thief = store, thief

    async def claim_all(self, organisation_id: str, claims: Sequence[tuple[Identifier, str]]) -> list[bool]:
        await self._thief()
        return await self._store.claim_all(organisation_id, claims)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize("stolen", ["phone", "email"])
async def test_a_new_person_whose_claim_was_taken_leaves_none_of_its_identifiers_to_a_person_never_stored(
    stores: StoreFactory, stolen: str
) -> None:
    store = await stores()
    here, elsewhere = deps_on(store), deps_on(store)
    patron = {"email": "rose.fortin@example.com", "phone": "514-555-0177", "first_name": "Rose"}
    thief = fact("t1", external_id="T-1", last_name="Fortin", first_name="Rose", **{stolen: patron[stolen]})

    async def steal() -> object:
        return await resolve_fact(thief, elsewhere)

    racing = replace(here, store=StolenBeforeClaim(store, steal))
    batch = [fact("f1", external_id="F-1", last_name="Fortin", **patron)]
    # The batch decided on a new person; one claim is lost, the other won: the careful path takes the fact.
    assert await resolve_facts(batch, lanes_of(batch), racing) == [None]
    outcome = await resolve_fact(batch[0], here)
    resolved = parse_data(last_resolution(outcome.outputs))
    assert isinstance(resolved, PersonResolvedV1)
    for identifier in identifiers_of_fact(batch[0]):
        owner = await store.owner_of(ORGANISATION, identifier)
        assert owner is not None
        assert await store.person(ORGANISATION, owner) is not None, f"{identifier.kind} left to a person never stored"


def identifiers_of_fact(envelope: Envelope) -> list[Identifier]:
    data = parse_data(envelope)
    assert isinstance(data, AudienceFact)
    record = normalise_record(person_record(data.person), today=START.date(), default_region="CA")
    identifiers, _blocked = identifiers_of(record, load_rules(IdentitySettings()).policy, ORGANISATION)
    return identifiers
