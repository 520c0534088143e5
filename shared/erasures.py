"""Which persons are erased: a tombstone per erased person, and per organisation a list of its erasures that lets
a process answer for the persons it already found without a tombstone from memory.

A consumer batch asks about every person it holds. Reading each one's tombstone costs a round trip per person;
instead, a process remembers the persons it found without a tombstone and the length the organisation's list of
erasures had when it looked. While the list has not grown, they are still not erased; when it has, the new
entries name the tombstones to forget. A tombstone is written before it is listed, so a person read without one
after the list was measured is listed past that length, and the next measure finds them.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document, NumberedList, found_by_id

# Persons known not erased kept at most per organisation (a few megabytes), forgotten all at once beyond.
NOT_ERASED_KEPT = 1 << 16


class Erasures:
    def __init__(
        self,
        tombstones: AsyncCollection[Document],
        listed_in: AsyncCollection[Document],
        tombstone_key: Callable[[str, str], str],
        *,
        kept: int = NOT_ERASED_KEPT,
    ) -> None:
        """`tombstone_key(organisation, person)` names a person's tombstone in `tombstones`; `listed_in` holds each
        organisation's list of erasures, under `<organisation>|erasures#<n>`."""
        self._tombstones = tombstones
        self._list = NumberedList(listed_in)
        self._listed_in = listed_in
        self._tombstone_key = tombstone_key
        self._kept = kept
        # Per organisation: the length its list had when last measured here, and the tombstone keys of the persons
        # found without a tombstone then, or since.
        self._not_erased: dict[str, tuple[int, frozenset[str]]] = {}

    async def mark(self, organisation_id: str, person_id: str, fields: Mapping[str, Any] | None = None) -> None:
        """Writes the person's tombstone (with `fields`), then lists it; again after a crash in between."""
        tombstone = self._tombstone_key(organisation_id, person_id)
        try:
            await self._tombstones.insert_one({**(fields or {}), "_id": tombstone, "organisation_id": organisation_id})
        except DuplicateKeyError:
            found = await self._tombstones.find_one({"_id": tombstone})
            if found is not None and found.get("listed"):
                return
        # A crash before the listing leaves the erasure unlisted until its next delivery lists it; the flag keeps a
        # delivery of an erasure listed already from listing it again.
        await self._list.append(
            _list_name(organisation_id), {"organisation_id": organisation_id, "tombstone": tombstone}
        )
        await self._tombstones.update_one({"_id": tombstone}, {"$set": {"listed": True}})

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        return await self._tombstones.find_one({"_id": self._tombstone_key(organisation_id, person_id)}) is not None

    async def among(self, organisation_id: str, person_ids: Iterable[str]) -> frozenset[str]:
        """The erased among `person_ids`: reads the tombstones of those not found here before without one since
        the erasures listed then, so a batch of persons seen before costs a measure of the list."""
        wanted = {self._tombstone_key(organisation_id, person_id): person_id for person_id in sorted(set(person_ids))}
        name = _list_name(organisation_id)
        listed, cleared = self._not_erased.get(organisation_id, (0, frozenset[str]()))
        length = await self._list.length(name, at_least=listed)
        if length < listed:
            cleared = frozenset()
        elif length > listed:
            entries = await found_by_id(
                self._listed_in, [f"{name}#{number}" for number in range(listed + 1, length + 1)]
            )
            cleared -= {str(entry["tombstone"]) for entry in entries.values()}
        to_read = [tombstone for tombstone in wanted if tombstone not in cleared]
        found = await found_by_id(self._tombstones, to_read, {"_id": 1})
        # Read after the list was measured: a person erased since has a tombstone here, or is listed past `length`.
        cleared |= {tombstone for tombstone in to_read if tombstone not in found}
        if len(cleared) > self._kept:
            cleared = frozenset()
        self._not_erased[organisation_id] = (length, cleared)
        return frozenset(wanted[tombstone] for tombstone in to_read if tombstone in found)


def _list_name(organisation_id: str) -> str:
    return f"{organisation_id}|erasures"
