"""A consumer batch answers from what its process knows while no other process writes, and reads afresh after."""

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

import shared.mongo
from services.identity.adapters.mongo import APPLIED, EPOCHS, JOURNAL, MAINTENANCE, PERSONS, MongoIdentityStore
from services.identity.adapters.versions import OrganisationEpochs
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.merges import ReviewItem, ReviewStatus
from services.identity.domain.persons import Person, review_id_for
from services.identity.domain.records import NormalisedRecord
from services.identity.handlers import IdentityDeps, erase_person, file_review, resolve_fact, resolve_facts, unmerge
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import parse_data
from shared.events.identity import PersonResolvedV1
from shared.mongo import INSERTS_IN_ORDER_PER_COMMAND, Document
from tests.integration.command_log import CommandLog
from tests.integration.held_calls import HeldCall
from tests.integration.identity.conftest import ORGANISATION, START, SteppingClock, last_resolution
from tests.integration.identity.test_batch_resolution import (
    as_a_batch,
    deps_on,
    fact,
    lanes_of,
    logged_database,
    patrons,
    wire,
)

__all__ = ["logged_database"]


def heard(database: AsyncDatabase[Document]) -> tuple[MongoIdentityStore, list[str]]:
    """A store of its own (a process), and the causes it reads afresh for, as the metric hears them."""
    causes: list[str] = []
    return MongoIdentityStore(database, on_fresh_reads=lambda _organisation, cause: causes.append(cause)), causes


def resolved_person(outcome: object) -> str:
    assert outcome is not None, "resolved in the batch, not left to the careful path"
    data = parse_data(last_resolution(outcome.outputs))  # type: ignore[attr-defined]
    assert isinstance(data, PersonResolvedV1)
    return data.person_id


async def test_a_second_batch_of_a_process_no_one_else_writes_beside_reads_only_the_epoch(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    store, causes = heard(database)
    deps = deps_on(store)
    await as_a_batch(patrons(8, source="billetterie-principale", prefix="h"), deps)
    again = patrons(8, source="shopify-boutique", prefix="s")
    log.commands.clear()
    outcomes = await resolve_facts(again, lanes_of(again), deps)
    assert all(outcome is not None for outcome in outcomes)
    # Owners, persons and blocks were all seen by the first batch, or are known not to exist.
    assert {command["find"] for name, command in log.commands if name == "find"} == {EPOCHS}
    assert log.count("find") == 1
    assert causes == ["start"]


async def test_a_batch_after_another_process_wrote_reads_afresh_and_finds_its_person(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, _log = logged_database
    store, causes = heard(database)
    here = deps_on(store)
    elsewhere = deps_on(MongoIdentityStore(database))
    anne = [fact("a1", external_id="C-1", email="anne@example.com", first_name="Anne", last_name="Roy")]
    await resolve_facts(anne, lanes_of(anne), here)
    # This process has listed the organisation's identifiers: bob@ was not among them.
    bob = await resolve_fact(
        fact("b1", external_id="C-2", email="bob@example.com", first_name="Bob", last_name="Côté"), elsewhere
    )
    bob_id = resolved_person(bob)

    again = [
        fact("a2", source="shopify-boutique", email="bob@example.com", first_name="Bob", last_name="Côté"),
        fact("a3", source="shopify-boutique", email="anne@example.com", first_name="Anne", last_name="Roy"),
    ]
    outcomes = await resolve_facts(again, lanes_of(again), here)
    # The moved epoch, first; then maybe a block the other process extended, met when this batch extends it too.
    assert causes[:2] == ["start", "epoch"]
    assert set(causes[2:]) <= {"append"}
    assert resolved_person(outcomes[0]) == bob_id
    assert resolved_person(outcomes[1]) == resolved_person(await resolve_fact(anne[0], here))


async def claimed_through_a_merge(deps: IdentityDeps) -> tuple[str, str]:
    """Anne and Béa, merged: Anne, the survivor, claimed bea.new@ through a fact naming Béa's shop account."""
    elise = {"first_name": "Élise", "last_name": "Gagnon"}

    async def person_of(event: Any) -> str:
        return resolved_person(await resolve_fact(event, deps))

    anne = await person_of(fact("e1", external_id="C-1", email="anne@example.com", **elise))
    bea = await person_of(fact("e2", source="shopify-boutique", external_id="S-1", email="bea@example.com", **elise))
    await person_of(fact("e3", source="shopify-boutique", external_id="S-1", email="anne@example.com"))
    assert (
        await person_of(fact("e4", source="shopify-boutique", external_id="S-1", email="bea.new@example.com")) == anne
    )
    return anne, bea


@pytest.mark.parametrize("path", ["one fact", "a batch"])
async def test_an_identifier_another_process_gave_back_in_an_unmerge_resolves_to_its_new_owner_here(
    logged_database: tuple[AsyncDatabase[Document], CommandLog], path: str
) -> None:
    database, _log = logged_database
    store, clock, rules = MongoIdentityStore(database), SteppingClock(), load_rules(IdentitySettings())
    here = IdentityDeps(store=store, rules=rules, clock=clock)
    elsewhere = IdentityDeps(store=MongoIdentityStore(database), rules=rules, clock=clock)
    anne, bea = await claimed_through_a_merge(here)
    new_email = Identifier(IdentifierType.EMAIL, "bea.new@example.com")
    # This process knows Anne as the owner of bea.new@, from the claim it made.
    assert await store.owner_of(ORGANISATION, new_email) == anne

    await unmerge(ORGANISATION, anne, elsewhere, requested_by="reviewer:marie")

    newsletter = fact("e5", source="infolettre", email="bea.new@example.com")
    if path == "one fact":
        resolved = resolved_person(await resolve_fact(newsletter, here))
    else:
        [outcome] = await resolve_facts([newsletter], lanes_of([newsletter]), here)
        # What a batch leaves goes the careful way, as the consumer sends it.
        resolved = resolved_person(outcome or await resolve_fact(newsletter, here))
    assert resolved == bea
    assert await store.owner_of(ORGANISATION, new_email) == bea


async def test_a_write_another_process_did_not_count_is_met_by_the_claim_and_then_read_afresh(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    store, causes = heard(database)
    here = deps_on(store)
    elsewhere_store = MongoIdentityStore(database)
    elsewhere = deps_on(elsewhere_store)
    await as_a_batch(patrons(4, source="billetterie-principale", prefix="h"), here)

    async def stopped_before_counting(organisation_id: str) -> None:
        return None

    # Another process writes and stops before it extends the epoch.
    elsewhere_store._epochs.wrote = stopped_before_counting  # type: ignore[method-assign]
    carole = resolved_person(
        await resolve_fact(
            fact("c1", external_id="C-9", email="carole@example.com", first_name="Carole", last_name="Roy"), elsewhere
        )
    )
    again = [fact("c2", source="shopify-boutique", email="carole@example.com", first_name="Carole", last_name="Roy")]
    # This process took carole@ for no one's and claimed it: the claim fails, and the fact goes the careful way.
    assert await resolve_facts(again, lanes_of(again), here) == [None]
    assert causes == ["start", "claim"]
    assert resolved_person(await resolve_fact(again[0], here)) == carole
    # What it knew is no longer taken as the store's: the next batch reads the persons and blocks again.
    log.commands.clear()
    later = patrons(4, source="mailchimp-principal", prefix="m")
    await resolve_facts(later, lanes_of(later), here)
    assert {command["find"] for name, command in log.commands if name == "find"} > {EPOCHS}


async def test_after_a_restart_a_batch_finds_the_persons_stored_before_by_identifier_and_by_look_alike(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, _log = logged_database
    before = deps_on(MongoIdentityStore(database))
    anne = resolved_person(
        await resolve_fact(
            fact("a1", external_id="C-1", email="anne.roy@example.com", first_name="Anne", last_name="Roy"), before
        )
    )
    luc = resolved_person(
        await resolve_fact(
            fact(
                "l1",
                external_id="C-2",
                phone="514-555-0142",
                first_name="Luc",
                last_name="Bergeron",
                postal_code="H2X 1Y4",
                birth_date="1971-03-02",
            ),
            before,
        )
    )
    restarted = deps_on(MongoIdentityStore(database))
    batch = [
        fact("a2", source="shopify-boutique", email="anne.roy@example.com", first_name="Anne", last_name="Roy"),
        fact(
            "l2",
            source="guichet",
            first_name="Luc",
            last_name="Bergeron",
            postal_code="H2X 1Y4",
            birth_date="1971-03-02",
        ),
    ]
    outcomes = await resolve_facts(batch, lanes_of(batch), restarted)
    assert [resolved_person(outcome) for outcome in outcomes] == [anne, luc]


async def test_a_fact_naming_a_person_another_process_is_still_creating_waits_for_them_and_links_to_them(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, _log = logged_database
    store, elsewhere = MongoIdentityStore(database), MongoIdentityStore(database)
    email = Identifier(IdentifierType.EMAIL, "anne.roy@example.com")
    # The other process has claimed Anne's email for the person it creates, and has not stored her yet.
    assert await elsewhere.claim(ORGANISATION, email, "per-anne") == "per-anne"
    anne = Person(
        person_id="per-anne",
        organisation_id=ORGANISATION,
        created_at=START,
        created_by_event="a0",
        identifiers=frozenset({email}),
        records=(NormalisedRecord(first_name="anne", last_name="roy", email="anne.roy@example.com"),),
    )

    async def stored_moments_later() -> None:
        await asyncio.sleep(0.3)
        await elsewhere.insert_person(anne)

    async with store.trusting({ORGANISATION}):
        outcome, _ = await asyncio.gather(
            resolve_fact(fact("a1", email="anne.roy@example.com", first_name="Anne", last_name="Roy"), deps_on(store)),
            stored_moments_later(),
        )
    assert resolved_person(outcome) == "per-anne"


async def test_after_a_restart_links_by_identifier_extend_blocks_without_taking_the_process_s_writes_for_another_s(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, _log = logged_database
    box_office = "billetterie-principale"
    first = await as_a_batch(patrons(4, source=box_office, prefix="h"), deps_on(MongoIdentityStore(database)))
    restarted, causes = heard(database)
    # The same patrons again, found by their box-office ids: no look-alike is read, their blocks are joined.
    outcomes = await as_a_batch(patrons(4, source=box_office, prefix="r"), deps_on(restarted))
    assert [resolved_person(outcomes[f"r{n}"]) for n in range(4)] == [resolved_person(first[f"h{n}"]) for n in range(4)]
    # Only its own start made this process read afresh: no block it extended looked written by someone else.
    assert causes == ["start"]


# Facts the careful way, side by side in one process: each checks the epoch before it reads and extends it after it
# writes.
SIDE_BY_SIDE = 8


async def test_facts_side_by_side_share_their_epoch_checks_and_extensions(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    epochs = OrganisationEpochs(database[EPOCHS])
    await epochs.wrote(ORGANISATION)
    log.commands.clear()

    async def careful_fact() -> None:
        async with epochs.trusting({ORGANISATION}):
            await asyncio.sleep(0)
            await epochs.wrote(ORGANISATION)

    await asyncio.gather(*(careful_fact() for _ in range(SIDE_BY_SIDE)))
    # One for the first to ask, one shared by all who asked while it ran; one at a time, each fact took its own.
    assert log.count("find", EPOCHS) <= 2
    assert log.count("insert", EPOCHS) <= 2
    # Whatever they shared, the epoch moved on past the one the facts found: other processes see they wrote.
    stored = {document["_id"] async for document in database[EPOCHS].find({})}
    assert f"{ORGANISATION}|epoch#2" in stored


async def checked(epochs: OrganisationEpochs) -> None:
    """A fact's check of the epoch: entering its trusting scope."""
    async with epochs.trusting({ORGANISATION}):
        pass


async def check_held(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> tuple[OrganisationEpochs, list[str], HeldCall, "asyncio.Task[None]"]:
    """A process that wrote, and its check under way: the read found the epoch it wrote and is held on its way
    back. With the causes it reads afresh for, the held read, and the check's task."""
    causes: list[str] = []
    epochs = OrganisationEpochs(database[EPOCHS], on_fresh_reads=lambda _organisation, cause: causes.append(cause))
    await epochs.wrote(ORGANISATION)
    held = HeldCall(monkeypatch, "found_by_id", EPOCHS, when="after")
    running = asyncio.create_task(checked(epochs))
    await held.until_held()
    return epochs, causes, held, running


async def test_a_check_asked_while_another_runs_sees_what_was_written_meanwhile(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    epochs, causes, held, first = await check_held(database, monkeypatch)
    # Another process writes, then a second fact of this one asks: the check under way read before that write.
    await OrganisationEpochs(database[EPOCHS]).wrote(ORGANISATION)
    second = asyncio.create_task(checked(epochs))
    await asyncio.sleep(0.05)
    assert not second.done(), "the second fact must not take the answer of a check that began before it asked"
    held.release()
    await asyncio.gather(first, second)
    assert causes == ["epoch"]


async def test_a_fact_cancelled_before_its_check_ran_leaves_those_sharing_it_a_check(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    epochs, causes, held, running = await check_held(database, monkeypatch)
    # Two facts ask while that check runs: the first to ask waits to run the next check, the other shares it.
    leader = asyncio.create_task(checked(epochs))
    await asyncio.sleep(0)
    sharer = asyncio.create_task(checked(epochs))
    await asyncio.sleep(0)
    await OrganisationEpochs(database[EPOCHS]).wrote(ORGANISATION)
    leader.cancel()
    held.release()
    await running
    async with asyncio.timeout(10):
        await sharer
    assert leader.cancelled()
    # The sharer's own check ran: it saw the other process's write.
    assert causes == ["epoch"]


async def test_a_check_that_fails_fails_those_sharing_it_and_the_next_check_runs_again(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    epochs = OrganisationEpochs(database[EPOCHS])
    held = HeldCall(monkeypatch, "found_by_id", EPOCHS, when="after")
    holding = shared.mongo.found_by_id
    failures = [RuntimeError("the store went away")]

    async def failing_once(collection: AsyncCollection[Document], *args: Any, **kwargs: Any) -> Any:
        if collection.name == EPOCHS and held.held.is_set() and failures:
            raise failures.pop()
        return await holding(collection, *args, **kwargs)

    monkeypatch.setattr(shared.mongo, "found_by_id", failing_once)
    running = asyncio.create_task(checked(epochs))
    await held.until_held()
    # Both ask while that check runs, and share the next one, whose read fails.
    sharing = [asyncio.create_task(checked(epochs)) for _ in range(2)]
    await asyncio.sleep(0)
    held.release()
    await running
    outcomes = await asyncio.gather(*sharing, return_exceptions=True)
    assert [str(outcome) for outcome in outcomes] == ["the store went away"] * 2
    # Nothing of the failed run is left in the way: the next fact's check reads the store and succeeds.
    async with asyncio.timeout(10):
        await checked(epochs)
    assert not failures


async def test_a_batch_records_its_facts_applied_in_one_document_of_the_insert_that_extends_the_epoch(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    deps = deps_on(MongoIdentityStore(database))
    await as_a_batch(patrons(4, source="billetterie-principale", prefix="h"), deps)
    batch = patrons(5, source="shopify-boutique", prefix="s")
    log.commands.clear()
    outcomes = await resolve_facts(batch, lanes_of(batch), deps)
    assert all(outcome is not None for outcome in outcomes)
    [insert] = [command for name, command in log.commands if name == "insert" and command["insert"] == EPOCHS]
    [record, epoch] = insert["documents"]
    assert record["_id"].startswith(f"{ORGANISATION}|applied-batch|")
    assert sorted(record["events"]) == sorted(envelope.id for envelope in batch)
    assert epoch["_id"].startswith(f"{ORGANISATION}|epoch#")
    assert insert["ordered"] is True
    assert log.count("insert", APPLIED) == 0
    # A redelivered fact finds its record: republished as it was, nothing redone.
    for envelope in batch:
        entry = await deps.store.journal_entry(ORGANISATION, envelope.id)
        assert entry is not None
        assert entry.applied
    log.commands.clear()
    again = await resolve_fact(batch[0], deps)
    assert again.outputs == outcomes[0].outputs  # type: ignore[union-attr]
    assert log.count("insert") == 0


async def test_a_batch_delivered_again_whole_reads_its_record_once_and_redoes_nothing(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    # Its offsets not committed (the process stopped just after the batch): every fact was applied, and each one,
    # left to be resolved one at a time, asks after the same record.
    database, log = logged_database
    deps = deps_on(MongoIdentityStore(database))
    batch = patrons(6, source="shopify-boutique", prefix="s")
    first = await as_a_batch(batch, deps)
    stored = {name: await database[name].count_documents({}) for name in (EPOCHS, JOURNAL, PERSONS)}
    log.commands.clear()
    again = await as_a_batch(batch, deps_on(MongoIdentityStore(database)))
    assert wire(again) == wire(first)
    # The batch tried to journal its facts again and found them journaled.
    assert {command["insert"] for name, command in log.commands if name == "insert"} <= {JOURNAL, MAINTENANCE}
    assert {name: await database[name].count_documents({}) for name in stored} == stored
    record_reads = [found for found in log.found_ids() if found.startswith(f"{EPOCHS}:{ORGANISATION}|applied-batch|")]
    assert len(record_reads) == 1


async def test_a_fact_recorded_applied_by_an_earlier_release_is_still_seen_applied(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    deps = deps_on(MongoIdentityStore(database))
    [first] = patrons(1, source="billetterie-principale", prefix="h")
    outcome = await resolve_fact(first, deps)
    # As an earlier release kept it: in a collection of its own, under the event's key.
    await database[EPOCHS].delete_one({"_id": f"{ORGANISATION}|applied|{first.id}"})
    await database[APPLIED].insert_one({"_id": f"{ORGANISATION}|{first.id}", "organisation_id": ORGANISATION})
    restarted = deps_on(MongoIdentityStore(database))
    entry = await restarted.store.journal_entry(ORGANISATION, first.id)
    assert entry is not None
    assert entry.applied
    log.commands.clear()
    again = await resolve_fact(first, restarted)
    assert again.outputs == outcome.outputs
    assert log.count("insert") == 0


async def applying(epochs: OrganisationEpochs, *event_ids: str) -> None:
    """A batch's scope: it writes, and records these events applied."""
    async with epochs.trusting({ORGANISATION}):
        await epochs.store_with_extension(ORGANISATION, marks(*event_ids))
        await epochs.wrote(ORGANISATION)


def marks(*event_ids: str) -> list[Document]:
    return [{"_id": f"{ORGANISATION}|applied|{event_id}", "organisation_id": ORGANISATION} for event_id in event_ids]


async def stored_ids(database: AsyncDatabase[Document]) -> set[str]:
    return {document["_id"] async for document in database[EPOCHS].find({})}


async def test_documents_riding_with_an_extension_are_stored_whatever_was_there_before(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    epochs = OrganisationEpochs(database[EPOCHS])
    await epochs.wrote(ORGANISATION)
    # One of them stored already (a redelivery recorded it): the others and the extension still go in.
    await database[EPOCHS].insert_one(marks("e2")[0])
    log.commands.clear()
    async with epochs.trusting({ORGANISATION}):
        await epochs.store_with_extension(ORGANISATION, marks("e1", "e2", "e3"))
        await epochs.wrote(ORGANISATION)
        assert log.count("insert", EPOCHS) == 0
    assert marks_and_epochs(await stored_ids(database)) == ({"e1", "e2", "e3"}, {"epoch#1", "epoch#2"})
    # Another process extended the epoch first: the marks are in, and the extension goes past it.
    await database[EPOCHS].insert_one({"_id": f"{ORGANISATION}|epoch#3", "organisation_id": ORGANISATION})
    await applying(epochs, "e4")
    assert marks_and_epochs(await stored_ids(database)) == (
        {"e1", "e2", "e3", "e4"},
        {f"epoch#{n}" for n in (1, 2, 3, 4)},
    )
    # Nothing written but the marks: they are stored on their own, and the epoch stays.
    async with epochs.trusting({ORGANISATION}):
        await epochs.store_with_extension(ORGANISATION, marks("e5"))
    assert f"{ORGANISATION}|applied|e5" in await stored_ids(database)
    assert f"{ORGANISATION}|epoch#5" not in await stored_ids(database)
    # Outside a trusting scope: at once.
    await epochs.store_with_extension(ORGANISATION, marks("e6"))
    assert f"{ORGANISATION}|applied|e6" in await stored_ids(database)


async def test_more_riding_documents_than_an_ordered_insert_holds_go_in_a_command_of_their_own(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    epochs = OrganisationEpochs(database[EPOCHS])
    many = [f"e{n}" for n in range(INSERTS_IN_ORDER_PER_COMMAND)]
    await applying(epochs, *many)
    inserts = [command for name, command in log.commands if name == "insert" and command["insert"] == EPOCHS]
    assert [len(command["documents"]) for command in inserts] == [len(many), 1]
    assert marks_and_epochs(await stored_ids(database)) == (set(many), {"epoch#1"})


def marks_and_epochs(ids: set[str]) -> tuple[set[str], set[str]]:
    local = [document_id.removeprefix(f"{ORGANISATION}|") for document_id in ids]
    return (
        {part.removeprefix("applied|") for part in local if part.startswith("applied|")},
        {part for part in local if part.startswith("epoch#")},
    )


async def test_documents_whose_extension_failed_go_with_the_next_one(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    epochs = OrganisationEpochs(database[EPOCHS])
    collection = database[EPOCHS]
    failures = [ConnectionError("the store went away")]
    insert_many = type(collection).insert_many

    async def failing_once(self: AsyncCollection[Document], *args: Any, **kwargs: Any) -> Any:
        if self.name == EPOCHS and failures:
            raise failures.pop()
        return await insert_many(self, *args, **kwargs)

    monkeypatch.setattr(type(collection), "insert_many", failing_once)
    with pytest.raises(ConnectionError):
        await applying(epochs, "e1", "e2")
    assert marks_and_epochs(await stored_ids(database)) == (set(), set())
    await applying(epochs, "e3")
    assert marks_and_epochs(await stored_ids(database)) == ({"e1", "e2", "e3"}, {"epoch#1"})


async def luc_and_a_walk_up(deps: IdentityDeps) -> tuple[str, str]:
    """Luc, known by his box-office account, and a walk-up buyer who may be him: their person ids."""
    luc = fact("l1", external_id="C-1", email="luc.roy@example.com", first_name="Luc", last_name="Roy")
    walk_up = fact("w1", first_name="Luc", last_name="Roy", postal_code="H2J 2L1")
    return resolved_person(await resolve_fact(luc, deps)), resolved_person(await resolve_fact(walk_up, deps))


async def test_a_suggestion_filed_inside_a_batch_after_another_process_erased_its_patron_is_withdrawn(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, _log = logged_database
    here = deps_on(MongoIdentityStore(database))
    elsewhere = deps_on(MongoIdentityStore(database))
    luc_id, walk_up_id = await luc_and_a_walk_up(here)
    async with here.store.trusting({ORGANISATION}):
        # What this process knows of Luc answers here without a round trip: his erasure elsewhere, made after the
        # batch began, is found only by asking the store.
        assert await here.store.person(ORGANISATION, luc_id) is not None
        await erase_person(ORGANISATION, luc_id, elsewhere, do_not_readd=False)
        await file_review(suggestion(walk_up_id, luc_id), here)
    assert await here.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10) == []
    [withdrawn] = await here.store.reviews(ORGANISATION, ReviewStatus.WITHDRAWN, 10)
    assert withdrawn.candidate_id == luc_id


async def test_a_suggestion_filed_inside_a_batch_asks_the_store_for_both_its_persons_in_one_read(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    here = deps_on(MongoIdentityStore(database))
    luc_id, walk_up_id = await luc_and_a_walk_up(here)
    async with here.store.trusting({ORGANISATION}):
        log.commands.clear()
        await file_review(suggestion(walk_up_id, luc_id), here)
    # Unchanged since this process last saw them: one look for a later version of each, together.
    assert log.count("find", PERSONS) == 1
    [pending] = await here.store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    assert (pending.person_id, pending.candidate_id) == (walk_up_id, luc_id)


def suggestion(person_id: str, candidate_id: str) -> ReviewItem:
    return ReviewItem(
        review_id=review_id_for(ORGANISATION, person_id, candidate_id),
        organisation_id=ORGANISATION,
        person_id=person_id,
        candidate_id=candidate_id,
        probability=0.8,
        agreements={"last_name": "exact"},
        event_id="w1",
        created_at=START,
    )
