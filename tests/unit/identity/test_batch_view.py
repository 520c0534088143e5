"""A consumer batch's view of the identity store: one read per answer, and the batch's own writes known."""

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from services.identity.batch_view import BatchView
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.persons import Person

ORGANISATION = "theatre-du-nord"
EMAIL = Identifier(IdentifierType.EMAIL, "anne@example.com")


def person(person_id: str) -> Person:
    return Person(
        person_id=person_id,
        organisation_id=ORGANISATION,
        created_at=datetime(2026, 9, 1, tzinfo=UTC),
        created_by_event=f"event-{person_id}",
    )


class CountingReads:
    """A store that answers slowly enough for several facts to ask at once, and counts what it is asked."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.owners: dict[Identifier, str] = {EMAIL: "p1"}
        self.persons = {"p1": person("p1")}
        self.blocks = {"ln:TRMBL": ["p1"]}
        self.suppressions = True
        self.block_reads: list[list[str]] = []
        self.block_failure: Exception | None = None

    async def owner_of(self, organisation_id: str, identifier: Identifier) -> str | None:
        self.asked[f"owner {identifier.value}"] += 1
        await asyncio.sleep(0.01)
        return self.owners.get(identifier)

    async def person(self, organisation_id: str, person_id: str) -> Person | None:
        self.asked[f"person {person_id}"] += 1
        await asyncio.sleep(0.01)
        return self.persons.get(person_id)

    async def block_members(self, organisation_id: str, keys: Sequence[str]) -> dict[str, list[str]]:
        for key in keys:
            self.asked[f"block {key}"] += 1
        self.block_reads.append(list(keys))
        await asyncio.sleep(0.01)
        if self.block_failure is not None:
            raise self.block_failure
        return {key: list(self.blocks.get(key, [])) for key in keys}

    async def household_members(self, organisation_id: str, household_id: str) -> list[str]:
        self.asked[f"household {household_id}"] += 1
        return []

    async def suppressions_exist(self, organisation_id: str) -> bool:
        self.asked["suppressions exist"] += 1
        await asyncio.sleep(0.01)
        return self.suppressions

    async def any_suppressed(self, organisation_id: str, hashes: Sequence[str]) -> bool:
        for value in hashes:
            self.asked[f"suppressed {value}"] += 1
        return "refused" in hashes


async def test_facts_asking_at_once_and_later_share_one_read_of_each_answer() -> None:
    store = CountingReads()
    view = BatchView(store)
    owners = await asyncio.gather(*(view.owner_of(ORGANISATION, EMAIL) for _ in range(20)))
    persons = await asyncio.gather(*(view.person(ORGANISATION, "p1") for _ in range(20)))
    assert await view.owner_of(ORGANISATION, EMAIL) == "p1"
    assert set(owners) == {"p1"}
    assert {found.person_id for found in persons if found is not None} == {"p1"}
    assert store.asked == Counter({"owner anne@example.com": 1, "person p1": 1})


async def test_a_block_is_read_once_per_key_and_each_caller_gets_its_own_copy() -> None:
    store = CountingReads()
    view = BatchView(store)
    first = await view.block_members(ORGANISATION, ["ln:TRMBL", "pc:H2X"])
    first["ln:TRMBL"].append("changed by a caller")
    second = await view.block_members(ORGANISATION, ["ln:TRMBL"])
    assert second == {"ln:TRMBL": ["p1"]}
    assert store.asked == Counter({"block ln:TRMBL": 1, "block pc:H2X": 1})


async def test_the_keys_of_a_fact_not_known_yet_are_read_in_one_call_and_shared_with_facts_asking_meanwhile() -> None:
    store = CountingReads()
    store.blocks["pc:H2X"] = ["p2"]
    view = BatchView(store)
    first, second = await asyncio.gather(
        view.block_members(ORGANISATION, ["ln:TRMBL", "pc:H2X", "ln:TRMBL"]),
        view.block_members(ORGANISATION, ["pc:H2X", "ph:5145550101"]),
    )
    assert first == {"ln:TRMBL": ["p1"], "pc:H2X": ["p2"]}
    assert second == {"pc:H2X": ["p2"], "ph:5145550101": []}
    # The second fact waited for the first one's read of the key they share and read only its own.
    assert store.block_reads == [["ln:TRMBL", "pc:H2X"], ["ph:5145550101"]]


async def test_a_failed_block_read_fails_every_fact_waiting_for_it_and_is_read_again_when_next_asked() -> None:
    store = CountingReads()
    store.block_failure = ConnectionError("store unreachable")
    view = BatchView(store)
    answers = await asyncio.gather(
        view.block_members(ORGANISATION, ["ln:TRMBL", "pc:H2X"]),
        view.block_members(ORGANISATION, ["pc:H2X"]),
        return_exceptions=True,
    )
    assert [type(answer) for answer in answers] == [ConnectionError, ConnectionError]
    store.block_failure = None
    assert await view.block_members(ORGANISATION, ["pc:H2X", "ln:TRMBL"]) == {"pc:H2X": [], "ln:TRMBL": ["p1"]}
    assert store.block_reads == [["ln:TRMBL", "pc:H2X"], ["pc:H2X", "ln:TRMBL"]]


async def test_a_block_forgotten_while_a_fact_waits_for_it_still_answers_that_fact() -> None:
    store = CountingReads()
    view = BatchView(store)
    waiting = asyncio.ensure_future(view.block_members(ORGANISATION, ["ln:TRMBL"]))
    await asyncio.sleep(0)
    view.forget_blocks(ORGANISATION, ["ln:TRMBL"])
    assert await waiting == {"ln:TRMBL": ["p1"]}


async def test_suppression_answers_are_kept_per_hash() -> None:
    store = CountingReads()
    view = BatchView(store)
    assert not await view.any_suppressed(ORGANISATION, ["a", "b"])
    assert await view.any_suppressed(ORGANISATION, ["b", "refused", "c"])
    assert store.asked == Counter(
        {"suppressions exist": 1, "suppressed a": 1, "suppressed b": 1, "suppressed refused": 1}
    )


async def test_an_organisation_that_never_suppressed_anyone_is_asked_once_per_batch_not_once_per_identifier() -> None:
    store = CountingReads()
    store.suppressions = False
    view = BatchView(store)
    answers = await asyncio.gather(*(view.any_suppressed(ORGANISATION, [f"h{n}", "refused"]) for n in range(20)))
    assert not any(answers)
    assert store.asked == Counter({"suppressions exist": 1})


async def test_what_the_batch_wrote_is_known_and_what_it_changed_is_read_again() -> None:
    store = CountingReads()
    view = BatchView(store)
    new_email = Identifier(IdentifierType.EMAIL, "new@example.com")
    assert await view.owner_of(ORGANISATION, new_email) is None
    view.claimed(ORGANISATION, new_email, "p2")
    view.stored(person("p2"))
    assert await view.owner_of(ORGANISATION, new_email) == "p2"
    stored = await view.person(ORGANISATION, "p2")
    assert stored is not None
    assert stored.person_id == "p2"
    await view.block_members(ORGANISATION, ["ln:TRMBL"])
    view.forget_blocks(ORGANISATION, ["ln:TRMBL"])
    store.blocks["ln:TRMBL"].append("p2")
    assert await view.block_members(ORGANISATION, ["ln:TRMBL"]) == {"ln:TRMBL": ["p1", "p2"]}
    assert store.asked == Counter({"owner new@example.com": 1, "block ln:TRMBL": 2})


async def test_a_failed_read_fails_every_fact_waiting_for_it_and_the_next_to_ask_reads_again() -> None:
    class Unreachable(CountingReads):
        away = True

        async def person(self, organisation_id: str, person_id: str) -> Person | None:
            await asyncio.sleep(0.01)
            if self.away:
                raise ConnectionError("store away")
            return await super().person(organisation_id, person_id)

    store = Unreachable()
    view = BatchView(store)
    results = await asyncio.gather(*(view.person(ORGANISATION, "p1") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    store.away = False
    found = await view.person(ORGANISATION, "p1")
    assert found is not None
    assert found.person_id == "p1"
