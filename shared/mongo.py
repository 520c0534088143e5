"""The MongoDB client lifecycle, index bootstrap, and collections scoped to one organisation.

Parterre runs on MongoDB 7 and on FerretDB 1.x, so it relies only on what both do: single-document atomic
updates, unique and compound indexes, `find_one_and_update` with upsert, and simple aggregations with two
limits FerretDB 1.24 imposes silently: ONE accumulator per `$group` stage (it computes only the first and
answers 0 for the rest), and `$project` for inclusion or exclusion only (it stores `{"a": "$b.c"}` as a string).
An update command of many statements is kept short (see `REPLACES_PER_COMMAND`): FerretDB 1.24 never answers
one that finds about 100 stored documents. An ordered insert is sent a hundred documents at a time (see
`insert_in_order`): FerretDB 1.24 goes on past a duplicate key into the next hundred.
`tests/integration/test_store_contract.py` pins each of these against the real store.
"""

import asyncio
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

Document = dict[str, Any]

ORGANISATION_FIELD = "organisation_id"
# The server's code for a write refused by a unique index.
DUPLICATE_KEY = 11000
# FerretDB 1.x keeps one of a database's 100 SQLite connections for each statement of an update command that finds
# its document, until the command ends: a command of 100 such statements waits for a connection forever (1.24.2:
# 64 pass, 100 hang). Commands this size leave room for several at once and for every other command.
REPLACES_PER_COMMAND = 16


# FerretDB 1.24 inserts a command's documents 100 at a time, and an ordered insert that meets a duplicate key in one
# hundred goes on with the next hundred (its handler breaks out of the hundred only): a command of at most this many
# stops at its first duplicate, as MongoDB's does.
INSERTS_IN_ORDER_PER_COMMAND = 100


async def insert_in_order(collection: AsyncCollection[Document], documents: Sequence[Document]) -> int | None:
    """Inserts the documents in order up to the first whose `_id` is taken, and returns its index: those before it
    are stored, none after. None when every document was stored."""
    for start in range(0, len(documents), INSERTS_IN_ORDER_PER_COMMAND):
        try:
            await collection.insert_many(documents[start : start + INSERTS_IN_ORDER_PER_COMMAND], ordered=True)
        except BulkWriteError as exc:
            return start + duplicate_indexes(exc)[0]
    return None


async def insert_new(collection: AsyncCollection[Document], documents: Sequence[Document]) -> list[bool]:
    """Inserts the documents in one round trip; False for each whose `_id` was already taken."""
    if not documents:
        return []
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        taken = set(duplicate_indexes(exc))
        return [index not in taken for index in range(len(documents))]
    return [True] * len(documents)


def duplicate_indexes(exc: BulkWriteError) -> list[int]:
    """The documents of a bulk insert refused for a duplicate key, in order; any other error is raised again."""
    errors = exc.details.get("writeErrors", [])
    if not errors or any(error.get("code") != DUPLICATE_KEY for error in errors):
        raise exc
    return sorted(int(error["index"]) for error in errors)


# `_id`s looked up per query by `found_by_id`. FerretDB 1.24 answers a query's first batch in one message whatever its
# size (MongoDB splits a batch at 16 MiB), and a message may not exceed 48 MB: 100 documents stay below that unless
# they average 480 kB (a stored profile's median is 1.9 kB). Fewer per query cost more round trips.
IDS_PER_READ = 100


async def found_by_id(
    collection: AsyncCollection[Document], keys: Iterable[Any], projection: Mapping[str, Any] | None = None
) -> dict[Any, Document]:
    """The documents stored under these `_id`s, by `_id` (the missing ones left out), with one `{_id: {$in: [...]}}`
    query per `IDS_PER_READ` of them.

    MongoDB finds them through its `_id` index, and so does the local stack's FerretDB for string and ObjectId
    keys (infra/local/ferretdb_source.py): FerretDB 1.24 as released reads the whole collection for any filter
    other than exactly `{_id: value}`. On the local stack, `make bench` read stored profiles 9,063 a second this
    way, against 3,966 a second one a command."""
    wanted = list(dict.fromkeys(keys))
    found: dict[Any, Document] = {}
    for start in range(0, len(wanted), IDS_PER_READ):
        chunk = wanted[start : start + IDS_PER_READ]
        # The whole chunk in the first batch (101 documents unless told otherwise), and one more than it can find
        # tells FerretDB the cursor is done: a full batch leaves it open, for a getMore finding nothing.
        async for document in collection.find({"_id": {"$in": chunk}}, projection, batch_size=len(chunk) + 1):
            found[document["_id"]] = document
    return found


class ReadsTogether:
    """Reads by `_id` for tasks running side by side: the keys asked for while the event loop goes round once are
    read together, `IDS_PER_READ` to a query, and each task gets the documents it asked for.

    A consumer batch decides its facts side by side, and each fact reads its own keys one after another: without
    this, a batch reading what its caches do not hold sends a command per key (1,940 for a batch of a 100,000-patron
    organisation), each costing the client 0.3–0.4 ms of CPU.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._waiting: dict[Any, asyncio.Future[Document | None]] = {}
        # The read that will take the keys waiting, until it starts.
        self._next_read: asyncio.Task[None] | None = None
        # Held so that a read under way is not collected.
        self._reads: set[asyncio.Task[None]] = set()

    async def find_one(self, key: Any) -> Document | None:
        # Shielded: a task cancelled while waiting must not cancel the answer the others wait for.
        return await asyncio.shield(self._answer(key))

    async def find_many(self, keys: Iterable[Any]) -> dict[Any, Document]:
        """The documents stored under these `_id`s, by `_id` (the missing ones left out), as `found_by_id`."""
        wanted = list(dict.fromkeys(keys))
        if len(wanted) > IDS_PER_READ:
            # Queries of their own: the few keys other tasks ask meanwhile need not wait behind a long list's.
            return await found_by_id(self._collection, wanted)
        answers = [self._answer(key) for key in wanted]
        if answers:
            # `wait`, unlike `gather`, leaves the answers alone when this task is cancelled.
            await asyncio.wait(answers)
        return {
            key: document
            for key, answer in zip(wanted, answers, strict=True)
            if (document := answer.result()) is not None
        }

    def _answer(self, key: Any) -> "asyncio.Future[Document | None]":
        loop = asyncio.get_running_loop()
        if self._next_read is None:
            # Runs once every task ready now has asked: they all wait in the same query.
            read = self._next_read = loop.create_task(self._read_waiting())
            self._reads.add(read)
            read.add_done_callback(self._read_ended)
        answer = self._waiting.get(key)
        if answer is None:
            answer = self._waiting[key] = loop.create_future()
        return answer

    async def _read_waiting(self) -> None:
        waiting, self._waiting, self._next_read = self._waiting, {}, None
        keys = list(waiting)
        for start in range(0, len(keys), IDS_PER_READ):
            chunk = keys[start : start + IDS_PER_READ]
            try:
                found = await found_by_id(self._collection, chunk)
            except asyncio.CancelledError:
                _fail(waiting, keys[start:], ReadCancelledError("the read was cancelled"))
                raise
            except Exception as exc:
                # Every task still waiting gets the failure, as a read of its own would have given it; no one
                # awaits this task, so it ends here.
                _fail(waiting, keys[start:], exc)
                return
            for key in chunk:
                waiting[key].set_result(found.get(key))

    def _read_ended(self, read: "asyncio.Task[None]") -> None:
        self._reads.discard(read)
        if read is self._next_read:
            # Cancelled before it started (its event loop ending): the tasks waiting are told, and whoever asks
            # next starts a read of their own, instead of waiting for this one forever.
            waiting, self._waiting, self._next_read = self._waiting, {}, None
            _fail(waiting, list(waiting), ReadCancelledError("the read was cancelled before it was sent"))


class ReadCancelledError(RuntimeError):
    """The read a task waited for together with others was cancelled: not the task itself."""


def _fail(answers: Mapping[Any, "asyncio.Future[Document | None]"], keys: Iterable[Any], error: BaseException) -> None:
    for key in keys:
        answers[key].set_exception(error)
        # Retrieved here: a task cancelled meanwhile no longer waits for it.
        answers[key].exception()


async def delete_all(collection: AsyncCollection[Document], keys: Sequence[Any]) -> None:
    """Deletes the documents with these `_id`s (those missing are no error), a few per round trip: in commands the
    size of `update_all`'s, whose limit was measured on updates."""
    for start in range(0, len(keys), REPLACES_PER_COMMAND):
        chunk = keys[start : start + REPLACES_PER_COMMAND]
        await collection.database.command(
            {"delete": collection.name, "deletes": [{"q": {"_id": key}, "limit": 1} for key in chunk], "ordered": False}
        )


async def replace_all(collection: AsyncCollection[Document], documents: Sequence[Document]) -> None:
    """Stores each document under its `_id`, replacing the one there (see `update_all`)."""
    await update_all(collection, [(document["_id"], document) for document in documents])


async def update_all(
    collection: AsyncCollection[Document], updates: Sequence[tuple[Any, Document]], *, upsert: bool = True
) -> None:
    """Applies each (`_id`, replacement or update operators) to its document, inserted if missing (with `upsert`),
    a few per round trip: the client spends about a tenth of the CPU a single-document write each costs it, the
    store a little less. At most one update per `_id`, and each one idempotent (a replacement, `$set`): a chunk
    that meets an error is applied again one update at a time."""
    for start in range(0, len(updates), REPLACES_PER_COMMAND):
        chunk = updates[start : start + REPLACES_PER_COMMAND]
        if await _updated_without_error(
            collection, [{"q": {"_id": key}, "u": update, "upsert": upsert} for key, update in chunk]
        ):
            continue
        # Another writer inserted the same `_id` between an upsert's look-up and its insert: it is there now.
        for key, update in chunk:
            await _update_one(collection, key, update, upsert=upsert)


# An upsert raced by another writer's insert of its `_id` finds that document on its next attempt, so two suffice;
# a third covers the document being deleted in between. A duplicate on another unique index fails every attempt.
UPSERT_ATTEMPTS = 3


async def _update_one(collection: AsyncCollection[Document], key: Any, update: Document, *, upsert: bool) -> None:
    """Applies one update, again when its upsert lost the race to insert the `_id`: MongoDB retries such an upsert
    itself, FerretDB 1.24 answers the duplicate key (seen in CI with six writers replacing the same forty ids)."""
    for attempt in range(1, UPSERT_ATTEMPTS + 1):
        try:
            if next(iter(update), "").startswith("$"):
                await collection.update_one({"_id": key}, update, upsert=upsert)
            else:
                await collection.replace_one({"_id": key}, update, upsert=upsert)
            return
        except DuplicateKeyError:
            if not upsert or attempt == UPSERT_ATTEMPTS:
                raise


async def _updated_without_error(collection: AsyncCollection[Document], updates: list[dict[str, Any]]) -> bool:
    """Sends the updates in one command; False if some met a duplicate key, any other error raised.

    Which updates were applied is then unknown: FerretDB 1.24 stops at the first error, even unordered, and names
    it as the first update of the command (checked: of five updates whose second failed, the first was applied,
    the last three not, and the error said index 0). The caller applies them again one at a time.
    """
    # The command itself, not `bulk_write`: FerretDB 1.24 answers a write error without `nModified`, which
    # PyMongo's bulk API cannot read.
    reply = await collection.database.command({"update": collection.name, "updates": updates, "ordered": False})
    errors = reply.get("writeErrors", [])
    if any(error.get("code") != DUPLICATE_KEY for error in errors):
        raise BulkWriteError({"writeErrors": errors, "nInserted": 0, "upserted": []})
    return not errors


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    name: str | None = None
    partial_filter: Mapping[str, Any] | None = field(default=None)


DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 5000
SERVER_SELECTION_TIMEOUT_OPTION = "serverselectiontimeoutms="


@asynccontextmanager
async def mongo_client(url: str, *, app_name: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    """A client bound to the running event loop (AsyncMongoClient must be created inside it), closed on exit.

    A store out of reach is given up on after 5 s, unless the URL says otherwise (`?serverSelectionTimeoutMS=`):
    a keyword would win over the URL's own option."""
    options: dict[str, Any] = {}
    if SERVER_SELECTION_TIMEOUT_OPTION not in urllib.parse.urlsplit(url).query.lower():
        options["serverSelectionTimeoutMS"] = DEFAULT_SERVER_SELECTION_TIMEOUT_MS
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        url, tz_aware=True, appname=app_name, uuidRepresentation="standard", **options
    )
    try:
        yield client
    finally:
        await client.close()


async def ensure_indexes(database: AsyncDatabase[Document], specs: Sequence[IndexSpec]) -> None:
    for spec in specs:
        options: dict[str, Any] = {"unique": spec.unique}
        if spec.name:
            options["name"] = spec.name
        if spec.partial_filter is not None:
            options["partialFilterExpression"] = dict(spec.partial_filter)
        await database[spec.collection].create_index(list(spec.keys), **options)


async def ping_store(client: AsyncMongoClient[Document]) -> bool:
    reply = await client.admin.command("ping")
    return bool(reply.get("ok"))


class OrganisationCollection:
    """A collection seen through one organisation: every filter and every document carries its id.

    Handlers get one of these rather than a raw collection, so a query can never read or change
    another organisation's documents by forgetting a condition. An upsert copies the filter's equality
    conditions into the new document, so upserted documents carry the organisation id too.
    """

    def __init__(self, collection: AsyncCollection[Document], organisation_id: str) -> None:
        if not organisation_id:
            raise ValueError("an organisation id is required")
        self._collection = collection
        self.organisation_id = organisation_id

    def _scoped(self, query: Mapping[str, Any] | None) -> Document:
        scoped = dict(query or {})
        if scoped.get(ORGANISATION_FIELD, self.organisation_id) != self.organisation_id:
            raise ValueError("a query may not name another organisation")
        scoped[ORGANISATION_FIELD] = self.organisation_id
        return scoped

    async def insert_one(self, document: Mapping[str, Any]) -> None:
        await self._collection.insert_one(self._scoped(document))

    async def find_one(self, query: Mapping[str, Any], projection: Mapping[str, Any] | None = None) -> Document | None:
        return await self._collection.find_one(self._scoped(query), projection)

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] | None = None,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Document]:
        cursor = self._collection.find(self._scoped(query), projection, sort=list(sort) if sort else None)
        return await cursor.to_list(length=limit or None)

    async def count(self, query: Mapping[str, Any]) -> int:
        return await self._collection.count_documents(self._scoped(query))

    async def update_one(self, query: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool = False) -> int:
        result = await self._collection.update_one(self._scoped(query), dict(update), upsert=upsert)
        return result.modified_count + (1 if result.upserted_id is not None else 0)

    async def find_one_and_update(
        self, query: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool = False
    ) -> Document | None:
        return await self._collection.find_one_and_update(
            self._scoped(query),
            dict(update),
            upsert=upsert,
            return_document=ReturnDocument.AFTER,
        )

    async def delete_many(self, query: Mapping[str, Any]) -> int:
        result = await self._collection.delete_many(self._scoped(query))
        return result.deleted_count


# Numbers asked for in each query that measures a `NumberedList`: a list of n items takes about log32(n) + 2 queries.
PROBES_PER_READ = 32
_DOUBLING_STEPS = (0, *(1 << power for power in range(PROBES_PER_READ - 1)))


class NumberedList:
    """A list many writers append to, kept as documents `<name>#1`, `<name>#2`, … each written once by an insert.

    FerretDB 1.x applies an update by reading the document and writing it back outside any transaction, so two
    updates of one document at the same moment can lose one (fifty concurrent `$inc` of one counter leave it near
    3); an insert on the unique `_id` never loses anything. An item is changed only by replacing its own
    document, which one writer at a time does (a tombstone, say). Every read is by `_id`, which the store indexes.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        # The lists' reads, and those of whoever keeps other documents in the same collection, go together.
        self.reads = ReadsTogether(collection)

    async def append(self, name: str, item: Mapping[str, Any]) -> str:
        """Adds `item` at the end; returns its key. A writer beaten to a number takes the next one."""
        number = await self.length(name) + 1
        while True:
            key = f"{name}#{number}"
            try:
                await self._collection.insert_one({**item, "_id": key})
            except DuplicateKeyError:
                number += 1
                continue
            return key

    async def extend(self, name: str, items: Sequence[Mapping[str, Any]], *, length: int | None = None) -> list[str]:
        """Adds `items` at the end, in order and with consecutive numbers where no other writer comes between;
        returns their keys. One round trip for them all when nobody else appends meanwhile, and `length` known."""
        known = await self.length(name) if length is None else length
        return (await self.extend_all({name: items}, {name: known}))[name]

    async def extend_all(
        self, items: Mapping[str, Sequence[Mapping[str, Any]]], lengths: Mapping[str, int]
    ) -> dict[str, list[str]]:
        """`extend` for many lists at once: every list's items in one insert, each list's numbered on from its length
        in `lengths` (a length seen before: a list only grows, so it is never past its end); returns the key of each
        item, list by list.

        Another writer may have appended meanwhile: the insert goes on past a number found taken (not in order),
        which leaves every number of each list's run filled, by this insert or by the other writer, so no number is
        skipped. The items refused go again in one insert, past the ends of their lists measured from their runs'
        ends: they land after the items that were not refused. A few lists found longer cost a few more commands,
        not an insert of each list's own."""
        keys = {name: [""] * len(named) for name, named in items.items()}
        waiting = {name: list(range(len(named))) for name, named in items.items() if named}
        starts = {name: lengths.get(name, 0) for name in waiting}
        while waiting:
            placed = [
                (name, index, f"{name}#{starts[name] + offset}")
                for name, indexes in waiting.items()
                for offset, index in enumerate(indexes, start=1)
            ]
            stored = await insert_new(
                self._collection, [{**items[name][index], "_id": key} for name, index, key in placed]
            )
            refused: dict[str, list[int]] = {}
            for (name, index, key), inserted in zip(placed, stored, strict=True):
                if inserted:
                    keys[name][index] = key
                else:
                    refused.setdefault(name, []).append(index)
            ends = [starts[name] + len(waiting[name]) for name in refused]
            measured = await asyncio.gather(
                *(self.length(name, at_least=end) for name, end in zip(refused, ends, strict=True))
            )
            starts = dict(zip(refused, measured, strict=True))
            waiting = refused
        return keys

    async def length(self, name: str, *, at_least: int = 0) -> int:
        """How many items the list holds. Numbers run from 1 without gaps, so the last one is found by asking for
        `PROBES_PER_READ` numbers in each query: the first, then doubling steps past it (1, 2, 4… on), then numbers
        evenly spaced between the last found and the first missing. A list of 100 items is measured in 3 queries
        (a read of one number at a time took 14), a million in 5. `at_least`, a length the caller saw before (a list
        only grows until it is cleared), starts the search there: a list grown by fewer than 2**30 since is
        measured in one or two queries."""
        base = at_least if at_least > 1 else 1
        while True:
            probes = [base + step for step in _DOUBLING_STEPS]
            found = await self._existing(name, probes)
            if base not in found:
                # Empty, or cleared since the caller saw `at_least`: then measured from the start.
                return 0 if base == 1 else await self.length(name)
            present = max(found)
            if present != probes[-1]:
                break
            base = present
        missing = min(number for number in probes if number > present)
        while missing - present > 1:
            step = -(-(missing - present) // PROBES_PER_READ)
            probes = list(range(present + step, missing, step))
            found = await self._existing(name, probes)
            present = max(found, default=present)
            missing = min((number for number in probes if number > present), default=missing)
        return present

    async def items(self, name: str, length: int | None = None, *, after: int = 0) -> list[tuple[str, Document]]:
        """Each item with its key, in order; `length` when the caller knows it already; `after`: only the items
        numbered past it."""
        count = await self.length(name) if length is None else length
        keys = [f"{name}#{number}" for number in range(after + 1, count + 1)]
        found = await self.reads.find_many(keys)
        return [(key, found[key]) for key in keys if key in found]

    async def replace(self, key: str, item: Mapping[str, Any]) -> None:
        """Replaces one item (keeping its place); a no-op if the list was cleared meanwhile."""
        await self._collection.replace_one({"_id": key}, {**item, "_id": key})

    async def replace_all(self, items: Mapping[str, Mapping[str, Any]]) -> None:
        """`replace` for each key and item, in a few commands."""
        await update_all(self._collection, [(key, {**item, "_id": key}) for key, item in items.items()], upsert=False)

    async def clear(self, name: str, length: int) -> None:
        """Deletes items 1 to `length`. An item appended meanwhile past them is left behind, found by nobody: clear
        a list only once nobody appends to it any more, or once what is appended to it is kept elsewhere too."""
        await delete_all(self._collection, [f"{name}#{number}" for number in range(1, length + 1)])

    async def _existing(self, name: str, numbers: Iterable[int]) -> set[int]:
        """Those of `numbers` the list holds an item under, read with whatever other tasks ask meanwhile."""
        found = await self.reads.find_many(f"{name}#{number}" for number in numbers)
        return {_item_number(key) for key in found}


def _item_number(key: str) -> int:
    return int(key.rpartition("#")[2])


class DocumentLocks:
    """One lock per document, for the writers of one process that update the same document.

    FerretDB 1.x applies an update by reading the document and writing it back outside any transaction, so two
    updates of one document at the same moment can lose one. Within one process, taking the document's lock
    around each update serialises them; across processes, keep such documents to one writer (or use a
    `NumberedList`). MongoDB needs neither, and loses nothing to the lock but a little concurrency.
    """

    def __init__(self) -> None:
        # key -> (lock, coroutines holding or waiting for it); dropped when nobody does, so memory stays small.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
