"""The identity store as one consumer batch sees it: each answer read once, and what the batch wrote known."""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import partial
from typing import Generic, TypeVar

from services.identity.domain.identifiers import Identifier
from services.identity.domain.persons import Person
from services.identity.ports import IdentityReads

Key = TypeVar("Key", bound=Hashable)
Answer = TypeVar("Answer")


async def _settled(answer: "asyncio.Future[Answer]") -> Answer:
    if answer.done():
        return answer.result()
    # Shielded: a fact cancelled while waiting must not cancel the answer the others wait for.
    return await asyncio.shield(answer)


class _Answers(Generic[Key, Answer]):
    """One read per key, shared by every fact that asks, even while it is under way."""

    def __init__(self) -> None:
        self._answers: dict[Key, asyncio.Future[Answer]] = {}

    async def get(self, key: Key, read: Callable[[], Awaitable[Answer]]) -> Answer:
        answer = self._answers.get(key)
        if answer is not None:
            return await _settled(answer)
        # The first to ask reads, and the others wait for its answer: no task per read (thousands a batch).
        answer = self._answers[key] = asyncio.get_running_loop().create_future()
        try:
            value = await read()
        except BaseException as exc:
            self._failed({key: answer}, exc)
            raise
        answer.set_result(value)
        return value

    async def get_all(
        self, keys: Sequence[Key], read: Callable[[list[Key]], Awaitable[Mapping[Key, Answer]]]
    ) -> list[Answer]:
        """`get` for each of `keys`, those no one asked for yet read together in one call."""
        # Taken now: an answer forgotten while this waits is still the one it waits for.
        found = {key: answer for key in keys if (answer := self._answers.get(key)) is not None}
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            loop = asyncio.get_running_loop()
            reading = {key: loop.create_future() for key in missing}
            self._answers.update(reading)
            found.update(reading)
            try:
                values = await read(missing)
            except BaseException as exc:
                self._failed(reading, exc)
                raise
            for key, answer in reading.items():
                answer.set_result(values[key])
        return [await _settled(found[key]) for key in keys]

    def _failed(self, reading: Mapping[Key, "asyncio.Future[Answer]"], exc: BaseException) -> None:
        # Whoever waits gets the failure (the batch then goes one fact at a time); no one gets it later.
        for key, answer in reading.items():
            if self._answers.get(key) is answer:
                del self._answers[key]
            if isinstance(exc, asyncio.CancelledError):
                answer.cancel()
            else:
                answer.set_exception(exc)
                # Retrieved here: when no one else waited, asyncio would log it as never retrieved.
                answer.exception()

    def learn(self, key: Key, value: Answer) -> None:
        known: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        known.set_result(value)
        self._answers[key] = known

    def forget(self, key: Key) -> None:
        self._answers.pop(key, None)


class BatchView:
    """Reads through to the store once per key while one consumer batch is decided, and learns its writes.

    The facts of a batch share identifiers, blocks and persons, and a fact that waits for another is decided
    again in a later round: without this view each would read them again. It lives for one batch only. What
    another instance writes meanwhile is met when a write of this batch runs into it (a claim already taken, a
    version appended first), as between any read and write, and the next batch reads afresh; so it stays exact
    with several instances, across partition reassignments and on redelivery.
    """

    def __init__(self, store: IdentityReads) -> None:
        self._store = store
        self._owners: _Answers[tuple[str, Identifier], str | None] = _Answers()
        self._persons: _Answers[tuple[str, str], Person | None] = _Answers()
        self._blocks: _Answers[tuple[str, str], list[str]] = _Answers()
        self._households: _Answers[tuple[str, str], list[str]] = _Answers()
        self._suppressed: _Answers[tuple[str, str], bool] = _Answers()
        self._any_suppression: _Answers[str, bool] = _Answers()

    async def owner_of(self, organisation_id: str, identifier: Identifier) -> str | None:
        return await self._owners.get(
            (organisation_id, identifier), lambda: self._store.owner_of(organisation_id, identifier)
        )

    async def person(self, organisation_id: str, person_id: str) -> Person | None:
        return await self._persons.get(
            (organisation_id, person_id), lambda: self._store.person(organisation_id, person_id)
        )

    async def block_members(self, organisation_id: str, keys: Sequence[str]) -> dict[str, list[str]]:
        # The keys the batch has not read yet go to the store in one call, which reads those its process cannot
        # answer for side by side: one round trip for the fact's blocks, where a call per key took one each.
        async def read(wanted: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
            found = await self._store.block_members(organisation_id, [key for _organisation, key in wanted])
            return {(organisation_id, key): members for key, members in found.items()}

        blocks = await self._blocks.get_all([(organisation_id, key) for key in keys], read)
        # Copies: a caller may change what it gets, and the next fact must find the block as read.
        return {key: list(members) for key, members in zip(keys, blocks, strict=True)}

    async def household_members(self, organisation_id: str, household_id: str) -> list[str]:
        members = await self._households.get(
            (organisation_id, household_id), lambda: self._store.household_members(organisation_id, household_id)
        )
        return list(members)

    async def suppressions_exist(self, organisation_id: str) -> bool:
        return await self._any_suppression.get(organisation_id, lambda: self._store.suppressions_exist(organisation_id))

    async def any_suppressed(self, organisation_id: str, hashes: Sequence[str]) -> bool:
        if not await self.suppressions_exist(organisation_id):
            return False
        for value in hashes:
            if await self._suppressed.get(
                (organisation_id, value), partial(self._store.any_suppressed, organisation_id, [value])
            ):
                return True
        return False

    # What the batch wrote, so that its later rounds need not read it back.
    def claimed(self, organisation_id: str, identifier: Identifier, person_id: str) -> None:
        self._owners.learn((organisation_id, identifier), person_id)

    def stored(self, person: Person) -> None:
        self._persons.learn((person.organisation_id, person.person_id), person)

    # What the batch changed without knowing the outcome (someone else may have been first): read again if asked.
    def forget_owner(self, organisation_id: str, identifier: Identifier) -> None:
        self._owners.forget((organisation_id, identifier))

    def forget_person(self, organisation_id: str, person_id: str) -> None:
        self._persons.forget((organisation_id, person_id))

    def forget_household(self, organisation_id: str, household_id: str) -> None:
        self._households.forget((organisation_id, household_id))

    def forget_blocks(self, organisation_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            self._blocks.forget((organisation_id, key))
