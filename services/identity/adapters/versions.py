"""Immutable versioned documents, and when this process may take the versions it knows as the latest.

FerretDB 1.x applies an update as a read and a write that a concurrent update can undo (and, without the
local stack's `_id` index, scans the whole collection to find the document). So a changing document is a chain
of immutable versions `<key>#1`, `<key>#2`, … and a change inserts the next version: the unique `_id` is also an
optimistic lock.

Reading the latest version costs at least one round trip (is there a version after the one known?). A consumer
batch reads thousands of them, so each organisation also has an epoch, a chain every writing process extends
after it writes. A process that finds the epoch where it last left it knows that no other process finished a
write since: inside `OrganisationEpochs.trusting`, the versions it knows (and the keys it knows to have none)
answer without a round trip. An epoch moved by someone else starts a new generation, and what was known before
is read again. A write another process has made but not yet counted is met as before, by a failed append or
claim, which also starts a new generation.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.mongo import (
    INSERTS_IN_ORDER_PER_COMMAND,
    Document,
    ReadsTogether,
    duplicate_indexes,
    found_by_id,
    insert_new,
)
from shared.records import quick_init

# Latest known versions kept per collection; versions never change, so a cached one is never wrong, only old.
CACHED_VERSIONS = 50_000
# Versions `latest` reads at once, after the last it knows of or from the first: most keys have a few (a person 2.4
# on average in the 100,000-people benchmark), and read one at a time they cost a round trip each, four for three.
VERSIONS_READ_AFTER_KNOWN = 2
VERSIONS_READ_FIRST = 4
# An organisation with more keys than this in one collection is read key by key: its list would not pay.
MOST_KNOWN_KEYS = 2_000_000
LISTING_PROGRESS_KEYS = 200_000
# After someone else wrote, an organisation's keys are listed again no sooner than this.
RELIST_AFTER_SECONDS = 600.0

log = logging.getLogger(__name__)

# The organisations whose known versions the running task may take as the latest (see `trusting`).
_TRUSTING: ContextVar[frozenset[str]] = ContextVar("trusting", default=frozenset())


@contextlib.contextmanager
def untrusted(organisation_id: str) -> Iterator[None]:
    """Within: what this process knows of the organisation answers no read without a round trip, even inside
    `OrganisationEpochs.trusting`; a version known is still where the search for a newer one starts."""
    token = _TRUSTING.set(_TRUSTING.get() - {organisation_id})
    try:
        yield
    finally:
        _TRUSTING.reset(token)


def key_of(organisation_id: str, local: str) -> str:
    return f"{organisation_id}|{local}"


class OrganisationEpochs:
    """Per organisation: may this process take what it knows of the identity state as the store's?

    `generation` stamps what is read or written; `trusts` says whether a stamp is still good. Writers call
    `wrote` after each write, which extends the epoch at once, or at the end of the `trusting` scope the write
    was made in (one extension for a whole consumer batch).
    """

    def __init__(
        self, collection: AsyncCollection[Document], *, on_fresh_reads: Callable[[str, str], None] | None = None
    ) -> None:
        """`on_fresh_reads(organisation, cause)` hears each time what this process knew stops answering."""
        self._chain = VersionedDocuments(collection)
        self._on_fresh_reads = on_fresh_reads
        # The epoch this process last found or made: the latest it knows of.
        self._seen: dict[str, int] = {}
        self._generations: dict[str, int] = {}
        self._trusted: set[str] = set()
        self._written: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        # Per organisation, the check and the extension not begun yet, which every caller asking meanwhile shares.
        self._next_checks: dict[str, asyncio.Future[None]] = {}
        self._next_extensions: dict[str, asyncio.Future[None]] = {}
        # Per organisation, the documents to store with the next extension (see `store_with_extension`).
        self._riding: dict[str, list[Document]] = {}

    def generation(self, organisation_id: str) -> int:
        return self._generations.get(organisation_id, 0)

    def trusts(self, organisation_id: str, generation: int) -> bool:
        """May a version stamped `generation` answer without a round trip, here and now?"""
        return (
            organisation_id in _TRUSTING.get()
            and organisation_id in self._trusted
            and generation == self.generation(organisation_id)
        )

    def distrust(self, organisation_id: str, cause: str) -> None:
        """Someone else wrote (`cause`: how this process found out), or this process starts: nothing known so far
        answers without a round trip any more."""
        self._trusted.discard(organisation_id)
        self._generations[organisation_id] = self.generation(organisation_id) + 1
        if self._on_fresh_reads is not None:
            self._on_fresh_reads(organisation_id, cause)

    @contextlib.asynccontextmanager
    async def trusting(self, organisation_ids: Iterable[str]) -> AsyncIterator[None]:
        """Within: reads of these organisations answer from what is known, if no one else wrote since; after:
        the epoch of each one written within is extended once."""
        organisations = frozenset(organisation_ids)
        for organisation_id in sorted(organisations):
            await self._check(organisation_id)
        token = _TRUSTING.set(_TRUSTING.get() | organisations)
        try:
            yield
        finally:
            _TRUSTING.reset(token)
            for organisation_id in sorted(organisations & self._written):
                self._written.discard(organisation_id)
                await self._extend(organisation_id)
            # Documents with no extension to go with (nothing else written): stored on their own.
            for organisation_id in sorted(organisations & self._riding.keys()):
                async with self._riding_taken(organisation_id) as riding:
                    await insert_new(self._chain.collection, riding)

    async def stored(self, document_id: str) -> bool:
        """Whether a document `store_with_extension` was given is stored."""
        return await self._chain.collection.find_one({"_id": document_id}, {"_id": 1}) is not None

    async def stored_document(self, document_id: str) -> Document | None:
        """A document `store_with_extension` was given, as stored."""
        return await self._chain.collection.find_one({"_id": document_id})

    async def store_with_extension(self, organisation_id: str, documents: Sequence[Document]) -> None:
        """Stores `documents` in the epochs' collection, under ids no epoch takes, any already there left as they
        are: inside `trusting`, in the same insert as the scope's extension of the epoch, and before it; outside,
        at once. A consumer batch's record of the facts it applied costs no round trip of its own this way."""
        if organisation_id in _TRUSTING.get():
            self._riding.setdefault(organisation_id, []).extend(documents)
            return
        await insert_new(self._chain.collection, documents)

    async def wrote(self, organisation_id: str) -> None:
        """Counts a write of this process, for other processes to see it."""
        if organisation_id in _TRUSTING.get():
            self._written.add(organisation_id)
            return
        await self._extend(organisation_id)

    async def _check(self, organisation_id: str) -> None:
        await self._shared(self._next_checks, organisation_id, self._check_now)

    async def _check_now(self, organisation_id: str) -> None:
        latest = await self._chain.latest(organisation_id, "epoch")
        epoch = 0 if latest is None else latest[0]
        seen = self._seen.get(organisation_id)
        if seen != epoch:
            self.distrust(organisation_id, "start" if seen is None else "epoch")
            self._seen[organisation_id] = epoch
        self._trusted.add(organisation_id)

    async def _extend(self, organisation_id: str) -> None:
        await self._shared(self._next_extensions, organisation_id, self._extend_now)

    async def _extend_now(self, organisation_id: str) -> None:
        epoch = self._seen.get(organisation_id, 0)
        mark = {"organisation_id": organisation_id}
        async with self._riding_taken(organisation_id) as riding:
            appended = await self._chain.append_after(organisation_id, "epoch", epoch + 1, mark, riding)
        while not appended:
            # Another process extended it first: it wrote, so what this one knows may be old.
            self.distrust(organisation_id, "epoch")
            latest = await self._chain.latest(organisation_id, "epoch")
            epoch = 0 if latest is None else latest[0]
            appended = await self._chain.append(organisation_id, "epoch", epoch + 1, mark)
        self._seen[organisation_id] = epoch + 1

    @contextlib.asynccontextmanager
    async def _riding_taken(self, organisation_id: str) -> AsyncIterator[list[Document]]:
        """The documents waiting to be stored, taken for a write; given back if it fails, for the next one: they
        may be another scope's, which went on believing them stored with this extension."""
        riding = self._riding.pop(organisation_id, [])
        try:
            yield riding
        except BaseException:
            self._riding[organisation_id] = riding + self._riding.get(organisation_id, [])
            raise

    async def _shared(
        self,
        upcoming: dict[str, "asyncio.Future[None]"],
        organisation_id: str,
        operation: Callable[[str], Awaitable[None]],
    ) -> None:
        """`operation` run under the organisation's lock, after this call began; one run serves every caller
        that asked before it began.

        Facts the careful way go side by side, and each checks the epoch before it reads and extends it after it
        wrote: one at a time, they queued for the lock (19 and 14 ms a fact while identity streamed 10,000
        patrons, where the reads and writes themselves take 2 ms). A check that begins after a caller asked sees
        every write finished before it asked; an extension that begins after a caller wrote counts its writes.
        """
        while True:
            waiting = upcoming.get(organisation_id)
            if waiting is None:
                break
            try:
                await asyncio.shield(waiting)
                return
            except _RunAbandonedError:
                continue  # its caller was cancelled before it ended: another begins, for this caller too
        waiting = upcoming[organisation_id] = asyncio.get_running_loop().create_future()
        try:
            async with self._lock(organisation_id):
                # Who asks from now on may ask after this run began: they wait for the next one.
                del upcoming[organisation_id]
                await operation(organisation_id)
        except asyncio.CancelledError:
            _settle(waiting, _RunAbandonedError())
            raise
        except BaseException as exc:
            # The store's error is theirs too: their run would have met it.
            _settle(waiting, exc)
            raise
        finally:
            # Left before the run began (cancelled waiting for the lock): the next caller starts a run.
            if upcoming.get(organisation_id) is waiting:
                del upcoming[organisation_id]
        waiting.set_result(None)

    def _lock(self, organisation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(organisation_id, asyncio.Lock())


class _RunAbandonedError(Exception):
    """The caller a shared run belonged to was cancelled before the run ended: those sharing it ask again."""


def _settle(waiting: "asyncio.Future[None]", error: BaseException) -> None:
    waiting.set_exception(error)
    # Retrieved here: nobody may be waiting for it any more.
    waiting.exception()


class KnownKeys:
    """Every key an organisation has in one collection, listed once and kept by this process's own writes.

    While the epoch holds, a key not listed has no document, and reading it is spared: a consumer batch asks
    for thousands of keys nobody has yet (a new patron's email, a new block). Someone else's write starts a new
    generation, and the list is taken again, at most every `RELIST_AFTER_SECONDS`.
    """

    def __init__(self, collection: AsyncCollection[Document], epochs: OrganisationEpochs, *, versioned: bool) -> None:
        self._collection = collection
        self._epochs = epochs
        self._versioned = versioned
        self._keys: dict[str, set[str]] = {}
        # Organisation → the generation its list is complete in.
        self._complete: dict[str, int] = {}
        self._listed_at: dict[str, float] = {}

    def absent(self, organisation_id: str, local: str) -> bool:
        complete = self._complete.get(organisation_id)
        return (
            complete is not None
            and self._epochs.trusts(organisation_id, complete)
            and local not in self._keys[organisation_id]
        )

    def add(self, organisation_id: str, local: str) -> None:
        keys = self._keys.get(organisation_id)
        if keys is not None:
            keys.add(local)

    def discard(self, organisation_id: str, local: str) -> None:
        keys = self._keys.get(organisation_id)
        if keys is not None:
            keys.discard(local)

    async def list(self, organisation_id: str) -> None:
        """Lists the organisation's keys unless its list is complete, or was taken moments ago."""
        complete = self._complete.get(organisation_id)
        if complete is not None and complete == self._epochs.generation(organisation_id):
            return
        listed_at = self._listed_at.get(organisation_id)
        if listed_at is not None and time.monotonic() - listed_at < RELIST_AFTER_SECONDS:
            return
        self._listed_at[organisation_id] = time.monotonic()
        self._complete.pop(organisation_id, None)
        generation = self._epochs.generation(organisation_id)
        started = time.perf_counter()
        # This process's own writes meanwhile land in the same set: the listing may have passed them already.
        keys = self._keys[organisation_id] = set()
        prefix = len(organisation_id) + 1
        async for document in self._collection.find({"organisation_id": organisation_id}, {"_id": 1}):
            local = str(document["_id"])[prefix:]
            keys.add(local.rsplit("#", 1)[0] if self._versioned else local)
            if len(keys) % LISTING_PROGRESS_KEYS == 0:
                log.info("%s: %d keys of %s listed so far", self._collection.name, len(keys), organisation_id)
            if len(keys) > MOST_KNOWN_KEYS:
                del self._keys[organisation_id]
                log.info("%s: over %d keys for %s", self._collection.name, MOST_KNOWN_KEYS, organisation_id)
                return
        self._complete[organisation_id] = generation
        log.info(
            "%s: %d keys of %s listed in %.1f s",
            self._collection.name,
            len(keys),
            organisation_id,
            time.perf_counter() - started,
        )


class _Read:
    """What the cache cannot answer: the store must be read."""


_READ = _Read()


@quick_init
@dataclass(frozen=True)
class _Known:
    version: int  # 0: no version exists
    document: Document | None
    generation: int


class VersionedDocuments:
    """A chain of immutable versions per key; inserting version n+1 fails if someone else inserted it first."""

    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        epochs: OrganisationEpochs | None = None,
        listed: bool = False,
        cache_size: int = CACHED_VERSIONS,
    ) -> None:
        """`epochs`: when its known versions may answer without a round trip; `listed`: also keep each
        organisation's keys (`KnownKeys`), for the collections where most keys asked for have no document."""
        self._collection = collection
        self._reads = ReadsTogether(collection)
        self._epochs = epochs
        self.keys = None if epochs is None or not listed else KnownKeys(collection, epochs, versioned=True)
        # Versions this process is inserting: another of its own tasks may race for the same one.
        self._inserting: Counter[str] = Counter()
        self._cache: OrderedDict[str, _Known] = OrderedDict()
        self._cache_size = cache_size

    @property
    def collection(self) -> AsyncCollection[Document]:
        return self._collection

    async def latest(self, organisation_id: str, local: str) -> tuple[int, Document] | None:
        answer = self._answer_known(organisation_id, local)
        if isinstance(answer, _Read):
            return await self._read_latest(organisation_id, local)
        return answer

    async def latest_all(self, organisation_id: str, locals_: Sequence[str]) -> list[tuple[int, Document] | None]:
        """`latest` of each key, those this process cannot answer read side by side: in the same round trips."""
        answers: list[tuple[int, Document] | None] = []
        unknown: list[int] = []
        for local in locals_:
            answer = self._answer_known(organisation_id, local)
            if isinstance(answer, _Read):
                unknown.append(len(answers))
                answer = None
            answers.append(answer)
        if len(unknown) == 1:
            answers[unknown[0]] = await self._read_latest(organisation_id, locals_[unknown[0]])
        elif unknown:
            read = await asyncio.gather(*(self._read_latest(organisation_id, locals_[index]) for index in unknown))
            for index, latest in zip(unknown, read, strict=True):
                answers[index] = latest
        return answers

    def _answer_known(self, organisation_id: str, local: str) -> tuple[int, Document] | _Read | None:
        """The latest version as this process may answer it without a round trip, or `_READ`."""
        key = key_of(organisation_id, local)
        known = self._cache.get(key)
        if known is not None and self._epochs is not None and self._epochs.trusts(organisation_id, known.generation):
            self._cache.move_to_end(key)
            return None if known.document is None else (known.version, known.document)
        if known is None and self.keys is not None and self.keys.absent(organisation_id, local):
            return None
        return _READ

    async def _read_latest(self, organisation_id: str, local: str) -> tuple[int, Document] | None:
        key = key_of(organisation_id, local)
        generation = self._generation(organisation_id)
        known = self._cache.get(key)
        if known is not None and known.document is not None:
            lower, document = known.version, known.document
            window = VERSIONS_READ_AFTER_KNOWN
        else:
            lower, document = 0, None
            window = VERSIONS_READ_FIRST
        # The next versions in one read: most keys have a few, and each read is a round trip the fact waits for.
        following = await self._reads.find_many(f"{key}#{version}" for version in range(lower + 1, lower + window + 1))
        for version in range(lower + 1, lower + window + 1):
            found = following.get(f"{key}#{version}")
            if found is None:
                break
            lower, document = version, found
        else:
            # Each one there: exponential steps up from the last, then halving, O(log n) reads for a long chain.
            upper = None
            step = 1
            while upper is None:
                found = await self._get(key, lower + step)
                if found is None:
                    upper = lower + step
                else:
                    lower, document = lower + step, found
                    step *= 2
            while upper - lower > 1:
                middle = (lower + upper) // 2
                found = await self._get(key, middle)
                if found is None:
                    upper = middle
                else:
                    lower, document = middle, found
        if document is None:
            self._remember(key, 0, None, generation)
            return None
        self._remember(key, lower, document, generation)
        return lower, document

    def known(self, organisation_id: str, local: str) -> tuple[int, Document] | None:
        """The latest version this process has seen, without asking the store: the starting point of an
        optimistic change, whose append fails if a newer version exists."""
        known = self._cache.get(key_of(organisation_id, local))
        return None if known is None or known.document is None else (known.version, known.document)

    def trusted(self, organisation_id: str, local: str) -> tuple[int, Document] | None:
        """`known`, only while it answers without a round trip (`OrganisationEpochs.trusts`): no other process has
        written the organisation since this one saw it."""
        answer = self._answer_known(organisation_id, local)
        return None if isinstance(answer, _Read) else answer

    def forget(self, organisation_id: str, local: str) -> None:
        self._cache.pop(key_of(organisation_id, local), None)

    async def append(self, organisation_id: str, local: str, version: int, document: Document) -> bool:
        """Inserts `version` of the key; False if it exists (someone changed the key since it was read)."""
        key = key_of(organisation_id, local)
        generation = self._generation(organisation_id)
        stored = {**document, "_id": f"{key}#{version}", "version": version}
        self._inserting[stored["_id"]] += 1
        try:
            await self._collection.insert_one(stored)
            done = True
        except DuplicateKeyError:
            done = False
        finally:
            self._inserting -= Counter([stored["_id"]])
        if not done:
            self._taken(organisation_id, key, version)
            return False
        self._appended(organisation_id, local, version, stored, generation)
        return True

    async def append_after(
        self, organisation_id: str, local: str, version: int, document: Document, before: Sequence[Document]
    ) -> bool:
        """`append`, with `before` (documents under other ids, any already stored left as it is) inserted first, in
        the same round trip while an ordered insert can hold them all."""
        if not before:
            return await self.append(organisation_id, local, version, document)
        if len(before) >= INSERTS_IN_ORDER_PER_COMMAND:
            await insert_new(self._collection, before)
            return await self.append(organisation_id, local, version, document)
        key = key_of(organisation_id, local)
        generation = self._generation(organisation_id)
        stored = {**document, "_id": f"{key}#{version}", "version": version}
        self._inserting[stored["_id"]] += 1
        try:
            try:
                await self._collection.insert_many([*before, stored], ordered=True)
            except BulkWriteError as exc:
                # Ordered: what follows the first refused document was not tried.
                refused = duplicate_indexes(exc)[0]
                if refused < len(before):
                    await insert_new(self._collection, before[refused + 1 :])
                    return await self.append(organisation_id, local, version, document)
                self._taken(organisation_id, key, version)
                return False
        finally:
            self._inserting -= Counter([stored["_id"]])
        self._appended(organisation_id, local, version, stored, generation)
        return True

    async def append_many(self, organisation_id: str, versions: Sequence[tuple[str, int, Document]]) -> list[bool]:
        """`append` for each (local key, version, document), in one round trip; the keys must differ."""
        generation = self._generation(organisation_id)
        keys = [key_of(organisation_id, local) for local, _version, _document in versions]
        stored = [
            {**document, "_id": f"{key}#{version}", "version": version}
            for key, (_local, version, document) in zip(keys, versions, strict=True)
        ]
        ids = Counter(document["_id"] for document in stored)
        self._inserting += ids
        try:
            inserted = await insert_new(self._collection, stored)
        finally:
            self._inserting -= ids
        for key, (local, version, _document), document, done in zip(keys, versions, stored, inserted, strict=True):
            if done:
                self._appended(organisation_id, local, version, document, generation)
            else:
                self._taken(organisation_id, key, version)
        return inserted

    async def overwrite_earlier(self, organisation_id: str, local: str, latest: int, document: Document) -> None:
        """Overwrites every version before `latest` with `document` (an erasure); rare. Their ids stay taken:
        a process that knows an older version finds the newer ones when it looks for the next, where a deleted
        version would look like no change since, and leave its id free to be written again."""
        key = key_of(organisation_id, local)
        for version in range(1, latest):
            await self._collection.replace_one({"_id": f"{key}#{version}"}, {**document, "version": version})

    async def rewrite_earlier(
        self, organisation_id: str, local: str, latest: int, rewrite: Callable[[Document], Document]
    ) -> None:
        """Rewrites each version before `latest` as `rewrite` makes it (an erasure of someone else takes their
        details out of it); rare. Only the versions it changes are written, each on its own."""
        key = key_of(organisation_id, local)
        found = await found_by_id(self._collection, [f"{key}#{version}" for version in range(1, latest)])
        for document in found.values():
            rewritten = rewrite(document)
            if rewritten != document:
                await self._collection.replace_one({"_id": document["_id"]}, rewritten)

    async def _get(self, key: str, version: int) -> Document | None:
        return await self._reads.find_one(f"{key}#{version}")

    def _generation(self, organisation_id: str) -> int:
        # Taken before the round trip: what it returns may predate a write someone else counts meanwhile.
        return 0 if self._epochs is None else self._epochs.generation(organisation_id)

    def _appended(self, organisation_id: str, local: str, version: int, document: Document, generation: int) -> None:
        self._remember(key_of(organisation_id, local), version, document, generation)
        if self.keys is not None:
            self.keys.add(organisation_id, local)

    def _taken(self, organisation_id: str, key: str, version: int) -> None:
        known = self._cache.get(key)
        ours = f"{key}#{version}" in self._inserting or (known is not None and known.version >= version)
        if known is None or known.version < version:
            # What this process knows is older than what is stored: read afresh next time. A version it knows
            # to be as new stays, or a late read's older answer would take its place.
            self._cache.pop(key, None)
        if self._epochs is not None and not ours:
            # Not one of this process's own tasks: someone else writes this organisation.
            self._epochs.distrust(organisation_id, "append")

    def _remember(self, key: str, version: int, document: Document | None, generation: int) -> None:
        known = self._cache.get(key)
        # A read answers as of when it reached the store: a version this process appended while the answer was
        # on its way is newer, and an absence taken as the latest would hide it for as long as the epoch holds.
        if known is None or (version, generation) >= (known.version, known.generation):
            self._cache[key] = _Known(version, document, generation)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
