"""Mappings that keep their most recently used entries in memory and the rest in a SQLite file: the batch command's
identity state, so that its memory stays bounded however long the file it resolves."""

import contextlib
import itertools
import pickle
import sqlite3
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

# Entries kept in memory per mapping, for a budget in megabytes: measured on the bench's audiences, a person held with
# their records costs about 2.5 kB, a merge (which keeps the persons it folded) about 5 kB, a block, an identifier's
# owner, a household, a review or a record id's line about 0.3 kB, and an entry of the matching caches about 0.4 kB.
# Shares of the budget follow how many of each an audience has (100,000 people: 109,000 persons, 452,000 blocks,
# 275,000 owners, 250,000 lines, 4,200 merges, 5,300 households, 1,100 reviews), so that the default budget holds
# them all; the caches take 10 % and SQLite's own cache 5 %.
PERSON_BYTES = 2_500
MERGE_BYTES = 5_000
SMALL_ENTRY_BYTES = 300
CACHED_ENTRY_BYTES = 400
_SHARES = {
    "persons": (30, PERSON_BYTES),
    "blocks": (20, SMALL_ENTRY_BYTES),
    "owners": (12, SMALL_ENTRY_BYTES),
    "first_lines": (10, SMALL_ENTRY_BYTES),
    "merges": (4, MERGE_BYTES),
    "households": (2, SMALL_ENTRY_BYTES),
    "reviews": (2, SMALL_ENTRY_BYTES),
}
# A mapping not listed above.
_OTHER_SHARE = 2
_CACHES_SHARE = 10
_SQLITE_SHARE = 5


class SpilledDict(MutableMapping[Any, Any]):
    """A dict of at most `hot` entries in memory, the others pickled in `table` and read back when used.

    Entries leave memory oldest first, a tenth at a time, and every one leaving is written, changed or not: callers
    change values in place (a block's member list). A value is theirs only until their next call on the mapping.
    Until the first entry leaves, the file is never read: a run that fits in memory costs a dict's lookups.
    """

    def __init__(self, connection: sqlite3.Connection, table: str, hot: int) -> None:
        if hot < 1:
            raise ValueError("a spilled mapping keeps at least one entry in memory")
        self._connection = connection
        self._table = table
        self._capacity = hot
        self._hot: dict[Any, Any] = {}
        self._spilled = False
        # Until the first entry leaves, a look-up is the dict's own: no call of this class's `get` on the way.
        self.get = self._hot.get  # type: ignore[method-assign]
        connection.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, key BLOB, value BLOB) WITHOUT ROWID")

    # Positional only, as the dict's own `get` answering until the first entry leaves takes its arguments: a call
    # must not work or fail depending on whether anything has left memory yet.
    def get(self, key: Any, default: Any = None, /) -> Any:
        value = self._hot.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if not self._spilled:
            return default
        row = self._connection.execute(
            f"SELECT value FROM {self._table} WHERE id = ?",  # noqa: S608 - the table is this module's own
            (_name(key),),
        ).fetchone()
        if row is None:
            return default
        value = pickle.loads(row[0])  # noqa: S301 - written by this process, into its own temporary file
        self[key] = value
        return value

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            self[key] = default
            return default
        return value

    def __contains__(self, key: object) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __setitem__(self, key: Any, value: Any) -> None:
        hot = self._hot
        hot[key] = value
        if len(hot) > self._capacity:
            # A tenth at once: one write of many rows costs SQLite far less than as many writes of one.
            oldest = list(itertools.islice(hot, max(1, self._capacity // 10)))
            self._write([(key, hot.pop(key)) for key in oldest])

    def __delitem__(self, key: Any) -> None:
        in_memory = self._hot.pop(key, _MISSING) is not _MISSING
        on_file = self._spilled and bool(
            self._connection.execute(f"DELETE FROM {self._table} WHERE id = ?", (_name(key),)).rowcount  # noqa: S608
        )
        if not in_memory and not on_file:
            raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        self._write(list(self._hot.items()))
        rows = self._connection.execute(f"SELECT key FROM {self._table}").fetchall()  # noqa: S608
        return iter([pickle.loads(row[0]) for row in rows])  # noqa: S301

    def __len__(self) -> int:
        self._write(list(self._hot.items()))
        return int(self._connection.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0])  # noqa: S608

    def _write(self, entries: list[tuple[Any, Any]]) -> None:
        if not self._spilled:
            self._spilled = True
            # From now on a key missing in memory may be on file.
            del self.get
        self._connection.executemany(
            f"INSERT OR REPLACE INTO {self._table} (id, key, value) VALUES (?, ?, ?)",  # noqa: S608
            [
                (_name(key), pickle.dumps(key, pickle.HIGHEST_PROTOCOL), pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
                for key, value in entries
            ],
        )


_MISSING: Any = object()


def _name(key: object) -> str:
    # The text of the key, not its pickle: two equal keys may pickle differently (a string shared or copied).
    return repr(key)


@contextlib.contextmanager
def spilled_maps(directory: Path, budget_mb: int) -> Iterator[Callable[[str], MutableMapping[Any, Any]]]:
    """Makes the store's large mappings, sharing one SQLite file in `directory`, within about `budget_mb` of memory;
    the file is closed on leaving."""
    connection = sqlite3.connect(directory / "identity.sqlite3", isolation_level=None)
    # A scratch file for one run: nothing to recover after a crash, so no journal and no syncing.
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute(f"PRAGMA cache_size = -{max(budget_mb * _SQLITE_SHARE // 100, 1) * 1024}")
    budget = budget_mb * 1_000_000

    def make(name: str) -> MutableMapping[Any, Any]:
        share, entry_bytes = _SHARES.get(name, (_OTHER_SHARE, SMALL_ENTRY_BYTES))
        return SpilledDict(connection, name, max(budget * share // 100 // entry_bytes, 1))

    try:
        yield make
    finally:
        connection.close()


def cached_entries_within(budget_mb: int) -> int:
    """The entries the matching caches may hold together within their share of a budget of `budget_mb`."""
    return max(budget_mb * 1_000_000 * _CACHES_SHARE // 100 // CACHED_ENTRY_BYTES, 1)
