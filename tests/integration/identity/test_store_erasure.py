"""The store's erasure steps, on both stores: a person leaves the blocks for good, and no key of theirs stays."""

from typing import Any

import pytest

from services.identity.adapters.mongo import BLOCKS, MongoIdentityStore
from services.identity.ports import IdentityStore
from tests.integration.identity.conftest import ORGANISATION, everything_stored

ERASED = "per_erased"
# A key only the erased person is filed under, and one they share with another person.
THEIRS, SHARED = "ph:+15145550199", "ln:TRMBL|pc:H2J2L1"


async def test_a_person_leaving_the_blocks_is_in_no_version_of_any_and_a_block_only_they_were_in_goes(
    identity_store: IdentityStore,
) -> None:
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS, SHARED], ERASED)
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], "per_marc")
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS], ERASED)

    await identity_store.leave_blocks(ORGANISATION, ERASED)
    await identity_store.leave_blocks(ORGANISATION, ERASED)

    blocks = (await everything_stored(identity_store))["blocks"]
    assert ERASED not in blocks
    assert THEIRS not in blocks
    assert await identity_store.block_members(ORGANISATION, [THEIRS, SHARED]) == {THEIRS: [], SHARED: ["per_marc"]}
    # The key is free again for whoever comes with it.
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS], "per_new")
    assert await identity_store.block_members(ORGANISATION, [THEIRS]) == {THEIRS: ["per_new"]}


async def test_a_process_that_read_a_block_before_the_person_left_it_does_not_file_them_again(
    identity_store: IdentityStore,
) -> None:
    if not isinstance(identity_store, MongoIdentityStore):
        return  # one process holds one view of the in-memory store
    other = MongoIdentityStore(identity_store.database)
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], ERASED)
    await identity_store.add_to_blocks(ORGANISATION, [SHARED], "per_marc")
    assert await other.block_members(ORGANISATION, [SHARED]) == {SHARED: [ERASED, "per_marc"]}

    await identity_store.leave_blocks(ORGANISATION, ERASED)
    # The other process adds to the block from the version it read, which still lists the erased person.
    await other.add_to_blocks(ORGANISATION, [SHARED], "per_lea")

    assert ERASED not in (await everything_stored(identity_store))["blocks"]
    assert await identity_store.block_members(ORGANISATION, [SHARED]) == {SHARED: ["per_marc", "per_lea"]}


class _CrashError(Exception):
    """The process dies here."""


class _DeletesUntilCrash:
    """The blocks collection of a process that dies after deleting `deletions` documents one at a time."""

    def __init__(self, collection: Any, deletions: int) -> None:
        self._collection = collection
        self._left = deletions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def delete_one(self, query: Any) -> Any:
        if self._left == 0:
            raise _CrashError
        self._left -= 1
        return await self._collection.delete_one(query)


@pytest.mark.parametrize("deletions", range(4))
async def test_a_person_leaving_the_blocks_again_removes_what_a_crash_left_of_a_block_only_they_were_in(
    identity_store: IdentityStore, deletions: int
) -> None:
    if not isinstance(identity_store, MongoIdentityStore):
        return  # the in-memory store deletes a block in one step
    # Marc, then the erased person, were filed under the key; Marc was erased first: the versions read
    # [] [erased] [erased], and the erased person's own erasure appends a fourth, empty, before deleting them.
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS], "per_marc")
    await identity_store.add_to_blocks(ORGANISATION, [THEIRS], ERASED)
    await identity_store.leave_blocks(ORGANISATION, "per_marc")
    crashing = MongoIdentityStore(identity_store.database)
    crashing._block_documents = _DeletesUntilCrash(identity_store.database[BLOCKS], deletions)  # type: ignore[assignment]
    with pytest.raises(_CrashError):
        await crashing.leave_blocks(ORGANISATION, ERASED)

    await MongoIdentityStore(identity_store.database).leave_blocks(ORGANISATION, ERASED)

    blocks = (await everything_stored(identity_store))["blocks"]
    assert ERASED not in blocks
    assert THEIRS not in blocks
