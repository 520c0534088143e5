"""Look-up lists on the real store: a person is filed and withdrawn without reading a list many share, and a filing
or a withdrawal cut short leaves no one filed twice, lost, or named after an erasure."""

import asyncio
from typing import Any, cast

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.profile.adapters.mongo import LOOKUPS, SHORT_LOOKUP_LIST, MongoProfileStore
from shared.mongo import Document, NumberedList

pytestmark = [pytest.mark.mongo]

ORGANISATION = "theatre-du-nord"
TREMBLAY = "name:TRMBL"


class CrashError(Exception):
    pass


class CrashingCollection:
    """The collection, but the next call of a method named by `crash_on` fails, as a crash at that write would
    (after `let_through` more calls of it); `calls` names every method called, in order."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.crash_on: str | None = None
        self.let_through = 0
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        self.calls.append(name)
        if name != self.crash_on:
            return method
        if self.let_through > 0:
            self.let_through -= 1
            return method

        async def crash(*_args: Any, **_kwargs: Any) -> Any:
            self.crash_on = None
            raise CrashError(name)

        return crash


class CrashingDatabase:
    def __init__(self, inner: AsyncDatabase[Document]) -> None:
        self._inner = inner
        self.lookups = CrashingCollection(inner[LOOKUPS])

    def __getitem__(self, name: str) -> Any:
        return self.lookups if name == LOOKUPS else self._inner[name]


@pytest.fixture
def crashing(database: AsyncDatabase[Document]) -> CrashingDatabase:
    return CrashingDatabase(database)


@pytest.fixture
def store(crashing: CrashingDatabase) -> MongoProfileStore:
    return MongoProfileStore(cast(AsyncDatabase[Document], crashing))


async def entries_naming(database: AsyncDatabase[Document], person_id: str) -> int:
    return await database[LOOKUPS].count_documents({"person": person_id})


async def file_many(store: MongoProfileStore, count: int) -> None:
    await store.index_all_lookups(ORGANISATION, {f"per_{n:03d}": [TREMBLAY] for n in range(count)})


async def test_filing_a_person_twice_files_them_once_and_withdrawing_them_lets_them_be_filed_again(
    store: MongoProfileStore,
) -> None:
    assert await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY, "name:MRK"]) == 2
    assert await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY, "name:MRK"]) == 0
    assert await store.found_by_up_to(ORGANISATION, TREMBLAY, 10) == (["per_marc"], False)

    await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY])

    assert await store.found_by_up_to(ORGANISATION, TREMBLAY, 10) == ([], False)
    assert await store.found_by(ORGANISATION, "name:MRK") == ["per_marc"]
    assert await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY]) == 1
    assert await store.found_by(ORGANISATION, TREMBLAY) == ["per_marc"]


async def test_a_look_up_reads_the_first_filed_up_to_its_limit_and_says_more_were_filed(
    store: MongoProfileStore,
) -> None:
    await file_many(store, 5)

    assert await store.found_by_up_to(ORGANISATION, TREMBLAY, 3) == (["per_000", "per_001", "per_002"], True)
    assert await store.found_by_up_to(ORGANISATION, TREMBLAY, 5) == ([f"per_{n:03d}" for n in range(5)], False)
    # What reading each list whole costs, without reading it: a key no one was filed under holds none.
    assert await store.lookup_lengths(ORGANISATION, [TREMBLAY, "name:NOBODY"]) == {TREMBLAY: 5, "name:NOBODY": 0}


async def test_filing_and_withdrawing_a_person_under_a_key_many_share_reads_only_its_first_entries(
    store: MongoProfileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await file_many(store, 3 * SHORT_LOOKUP_LIST)
    entries_read: list[int | None] = []
    read_items = NumberedList.items

    async def items(self: NumberedList, name: str, length: int | None = None) -> list[tuple[str, Document]]:
        entries_read.append(length)
        return await read_items(self, name, length)

    monkeypatch.setattr(NumberedList, "items", items)

    assert await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY]) == 1
    await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY])
    await store.unindex_lookups(ORGANISATION, "per_040", [TREMBLAY])

    assert entries_read == [SHORT_LOOKUP_LIST], "the first entries, once, to file Marc; marks for the rest"
    assert "per_marc" not in await store.found_by(ORGANISATION, TREMBLAY)
    assert "per_040" not in await store.found_by(ORGANISATION, TREMBLAY)
    assert "per_041" in await store.found_by(ORGANISATION, TREMBLAY)


async def test_a_person_among_the_first_entries_is_withdrawn_without_a_mark(
    store: MongoProfileStore, database: AsyncDatabase[Document]
) -> None:
    await file_many(store, 3 * SHORT_LOOKUP_LIST)

    await store.unindex_lookups(ORGANISATION, "per_003", [TREMBLAY])

    assert await entries_naming(database, "per_003") == 0
    assert await database[LOOKUPS].count_documents({"item": {"$exists": True}}) == 2 * SHORT_LOOKUP_LIST
    assert await store.index_lookups(ORGANISATION, "per_003", [TREMBLAY]) == 1
    assert "per_003" in await store.found_by(ORGANISATION, TREMBLAY)


async def test_a_filing_cut_short_before_its_entry_is_completed_by_the_next(
    store: MongoProfileStore, crashing: CrashingDatabase, database: AsyncDatabase[Document]
) -> None:
    await file_many(store, SHORT_LOOKUP_LIST + 4)
    crashing.lookups.crash_on = "insert_many"

    with pytest.raises(CrashError):
        await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY])
    assert "per_marc" not in await store.found_by(ORGANISATION, TREMBLAY)
    assert await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY]) == 1

    assert await entries_naming(database, "per_marc") == 1
    assert await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY]) == 0


async def test_a_filing_cut_short_before_its_mark_may_file_the_person_twice_but_they_are_found_once_and_erased_whole(
    store: MongoProfileStore, crashing: CrashingDatabase, database: AsyncDatabase[Document]
) -> None:
    await file_many(store, SHORT_LOOKUP_LIST + 4)
    # The entry's insert goes through; the marks' fails.
    crashing.lookups.crash_on, crashing.lookups.let_through = "insert_many", 1

    with pytest.raises(CrashError):
        await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY])
    await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY])

    assert await entries_naming(database, "per_marc") == 2
    assert (await store.found_by(ORGANISATION, TREMBLAY)).count("per_marc") == 1
    assert (await store.found_by_up_to(ORGANISATION, TREMBLAY, 100))[0].count("per_marc") == 1
    await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY], thorough=True)
    assert await entries_naming(database, "per_marc") == 0


async def test_a_withdrawal_cut_short_leaves_the_person_withdrawn_and_free_to_be_filed_again(
    store: MongoProfileStore, crashing: CrashingDatabase
) -> None:
    await file_many(store, SHORT_LOOKUP_LIST)
    await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY])
    crashing.lookups.crash_on = "delete_one"

    with pytest.raises(CrashError):
        await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY])

    assert "per_marc" not in await store.found_by(ORGANISATION, TREMBLAY)
    assert await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY]) == 1
    assert "per_marc" in await store.found_by(ORGANISATION, TREMBLAY)


async def test_an_erasure_withdraws_every_entry_naming_the_person_even_one_filed_before_marks_were_kept(
    store: MongoProfileStore, database: AsyncDatabase[Document]
) -> None:
    await file_many(store, SHORT_LOOKUP_LIST + 4)
    await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY, "email:marc@example.com"])
    # As an earlier version left its entries: no marks. Filed again under a long list, the person is there twice.
    await database[LOOKUPS].delete_many({"item": {"$exists": True}})
    await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY, "email:marc@example.com"])
    assert await entries_naming(database, "per_marc") == 3, "twice under the long list, once under the short one"

    await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY, "email:marc@example.com"], thorough=True)

    assert await entries_naming(database, "per_marc") == 0


async def test_a_key_filed_before_marks_were_kept_is_withdrawn_by_reading_its_list(
    store: MongoProfileStore, database: AsyncDatabase[Document]
) -> None:
    await store.index_lookups(ORGANISATION, "per_marc", ["email:marc@example.com"])
    await database[LOOKUPS].delete_many({"item": {"$exists": True}})

    await store.unindex_lookups(ORGANISATION, "per_marc", ["email:marc@example.com"])

    assert await entries_naming(database, "per_marc") == 0


async def numbered_entries(database: AsyncDatabase[Document]) -> dict[int, str | None]:
    """The entries of the one list a test files in, by number: the person each names (None: a tombstone)."""
    return {
        int(str(document["_id"]).rsplit("#", 1)[1]): document["person"]
        async for document in database[LOOKUPS].find({"person": {"$exists": True}})
    }


async def entries_by_list(database: AsyncDatabase[Document]) -> dict[str, dict[int, str | None]]:
    """The entries of every list, by list and number: the person each names (None: a tombstone)."""
    lists: dict[str, dict[int, str | None]] = {}
    async for document in database[LOOKUPS].find({"person": {"$exists": True}}):
        name, _, number = str(document["_id"]).rpartition("#")
        lists.setdefault(name, {})[int(number)] = document["person"]
    return lists


async def test_new_persons_are_filed_in_two_inserts_without_reading_a_list_and_withdrawn_by_their_marks(
    store: MongoProfileStore, crashing: CrashingDatabase, database: AsyncDatabase[Document]
) -> None:
    await file_many(store, SHORT_LOOKUP_LIST + 4)
    crashing.lookups.calls.clear()

    filed = await store.index_all_lookups(
        ORGANISATION,
        {"per_marc": [TREMBLAY, "email:marc@example.com"], "per_lea": [TREMBLAY]},
        new_persons={"per_marc", "per_lea"},
    )

    assert filed == 3
    assert crashing.lookups.calls == ["insert_many", "insert_many"], "the entries, then the marks"
    entries = await numbered_entries(database)
    assert sorted(entries) == list(range(1, SHORT_LOOKUP_LIST + 7))
    assert {"per_marc", "per_lea"} <= set(await store.found_by(ORGANISATION, TREMBLAY))
    assert await store.found_by(ORGANISATION, "email:marc@example.com") == ["per_marc"]
    crashing.lookups.calls.clear()
    await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY])
    assert "items" not in crashing.lookups.calls
    assert "per_marc" not in await store.found_by(ORGANISATION, TREMBLAY)
    assert await store.index_lookups(ORGANISATION, "per_lea", [TREMBLAY]) == 0


async def test_persons_filed_before_go_under_many_new_keys_in_one_insert_and_are_never_filed_twice(
    store: MongoProfileStore, crashing: CrashingDatabase, database: AsyncDatabase[Document]
) -> None:
    # Marc and Léa were filed under their emails; their next facts give their names' keys, one a long list.
    await file_many(store, SHORT_LOOKUP_LIST + 4)
    await store.index_all_lookups(
        ORGANISATION, {"per_marc": ["email:marc@example.com"], "per_lea": ["email:lea@example.com"]}
    )
    keys = [TREMBLAY, *(f"name:S{n}" for n in range(8))]
    crashing.lookups.calls.clear()

    filed = await store.index_all_lookups(ORGANISATION, {"per_marc": keys, "per_lea": keys})

    assert filed == 18
    assert crashing.lookups.calls.count("insert_many") == 2, "the entries of every list, then the marks"
    for key in keys:
        assert {"per_marc", "per_lea"} <= set(await store.found_by(ORGANISATION, key))
    assert await store.index_all_lookups(ORGANISATION, {"per_marc": keys, "per_lea": keys}) == 0
    assert await entries_naming(database, "per_marc") == len(keys) + 1
    lists = await entries_by_list(database)
    for entries in lists.values():
        assert sorted(entries) == list(range(1, len(entries) + 1)), "no number skipped, none taken twice"
    assert sorted(len(entries) for entries in lists.values()) == [1, 1, *[2] * 8, SHORT_LOOKUP_LIST + 6]


async def test_new_persons_filed_by_an_instance_that_has_not_seen_a_list_grow_land_after_its_last_entry(
    store: MongoProfileStore, database: AsyncDatabase[Document]
) -> None:
    # This instance remembers the list at 3 entries; another one files 20 more meanwhile.
    await file_many(store, 3)
    other = MongoProfileStore(database)
    await other.index_all_lookups(
        ORGANISATION, {f"per_other_{n:02d}": [TREMBLAY] for n in range(SHORT_LOOKUP_LIST + 4)}
    )

    assert await store.index_all_lookups(ORGANISATION, {"per_marc": [TREMBLAY]}, new_persons={"per_marc"}) == 1

    entries = await numbered_entries(database)
    assert sorted(entries) == list(range(1, SHORT_LOOKUP_LIST + 9)), "no number skipped, none taken twice"
    assert list(entries.values()).count("per_marc") == 1
    await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY])
    assert "per_marc" not in (await numbered_entries(database)).values()


async def test_new_persons_filed_on_many_lists_another_instance_grew_take_a_few_inserts_and_skip_no_number(
    store: MongoProfileStore, crashing: CrashingDatabase, database: AsyncDatabase[Document]
) -> None:
    # This instance saw ten lists at 2 entries each; another one files 3 more on each meanwhile. Each of the four
    # new persons here is filed under all ten, so their runs (3 to 6) meet the other's entries (3 to 5) part way.
    names = [f"name:S{n}" for n in range(10)]
    await store.index_all_lookups(ORGANISATION, {f"per_{n}": names for n in range(2)})
    other = MongoProfileStore(database)
    await other.index_all_lookups(ORGANISATION, {f"per_other_{n}": names for n in range(3)})
    crashing.lookups.calls.clear()

    new = {f"per_new_{n}": names for n in range(4)}
    assert await store.index_all_lookups(ORGANISATION, new, new_persons=set(new)) == 40

    # The entries, then the ones refused again past their lists' ends; lists this short take no marks.
    assert crashing.lookups.calls.count("insert_many") == 2, crashing.lookups.calls
    lists = await entries_by_list(database)
    assert len(lists) == 10
    for entries in lists.values():
        assert sorted(entries) == list(range(1, 10)), "no number skipped, none taken twice"
        assert sorted(str(person) for person in entries.values()) == sorted(
            [f"per_{n}" for n in range(2)] + [f"per_other_{n}" for n in range(3)] + list(new)
        )
    for name in names:
        assert set(new) <= set(await other.found_by(ORGANISATION, name))


async def test_filings_of_one_instance_at_once_take_turns_and_refuse_no_number(
    store: MongoProfileStore, crashing: CrashingDatabase, database: AsyncDatabase[Document]
) -> None:
    # A batch's groups file their new persons side by side, under the same common names.
    names = [f"name:S{n}" for n in range(10)]
    await store.index_all_lookups(ORGANISATION, {f"per_{n}": names for n in range(2)})
    crashing.lookups.calls.clear()
    first = {f"per_first_{n}": names for n in range(3)}
    second = {f"per_second_{n}": names for n in range(4)}

    first_filed, second_filed = await asyncio.gather(
        store.index_all_lookups(ORGANISATION, first, new_persons=set(first)),
        store.index_all_lookups(ORGANISATION, second, new_persons=set(second)),
    )

    # One insert each, numbered past the other's: none refused and inserted again.
    assert (first_filed, second_filed) == (30, 40)
    assert crashing.lookups.calls.count("insert_many") == 2, crashing.lookups.calls
    for entries in (await entries_by_list(database)).values():
        assert sorted(entries) == list(range(1, 10)), "no number skipped, none taken twice"


async def test_a_new_persons_filing_cut_short_before_its_marks_leaves_them_found_once_and_erased_whole(
    store: MongoProfileStore, crashing: CrashingDatabase, database: AsyncDatabase[Document]
) -> None:
    await file_many(store, SHORT_LOOKUP_LIST + 4)
    crashing.lookups.crash_on, crashing.lookups.let_through = "insert_many", 1

    with pytest.raises(CrashError):
        await store.index_all_lookups(ORGANISATION, {"per_marc": [TREMBLAY]}, new_persons={"per_marc"})
    # Delivered again, the fact finds its change number taken: it is filed as a person filed before.
    await store.index_lookups(ORGANISATION, "per_marc", [TREMBLAY])

    # Twice in the list, as after an ordinary filing cut short there: found once, erased whole.
    assert await entries_naming(database, "per_marc") == 2
    assert (await store.found_by_up_to(ORGANISATION, TREMBLAY, 100))[0].count("per_marc") == 1
    await store.unindex_lookups(ORGANISATION, "per_marc", [TREMBLAY], thorough=True)
    assert await entries_naming(database, "per_marc") == 0
