"""Caches of pure functions over values that recur (names, streets, emails): each a bounded LRU, and all of them
resized at once by a long run that must keep within a memory budget."""

import contextlib
import functools
import operator
from collections.abc import Callable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# Entries each cache holds at most unless resized: about 20 MB per cache once full, in a long-running service.
MOST_ENTRIES = 1 << 16


class Remembered(Generic[P, R]):
    """`function` with the results of its most recent arguments kept, in a cache `caches_within` can resize."""

    def __init__(self, function: Callable[P, R]) -> None:
        functools.update_wrapper(self, function)
        self._function = function
        # A class of its own, whose call is the cache itself: called through it, the cache answers without a
        # Python frame in between (these run hundreds of thousands of times a batch).
        self.__class__ = type(type(self).__name__, (type(self),), {})
        self.resize(MOST_ENTRIES)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        # Replaced by the cache in the class of each (see `__init__`).
        raise NotImplementedError

    @property
    def entries(self) -> int:
        return self._cached.cache_info().currsize

    def resize(self, most_entries: int) -> None:
        """Keeps at most `most_entries` results from now on; those held already are dropped."""
        self._cached: functools._lru_cache_wrapper[R] = functools.lru_cache(maxsize=most_entries)(self._function)
        type(self).__call__ = staticmethod(self._cached)  # type: ignore[method-assign]


_CACHES: list[Remembered[Any, Any]] = []


def remembered(function: Callable[P, R]) -> Remembered[P, R]:
    """`function` with its results for the last `MOST_ENTRIES` arguments kept, and the cache listed for
    `caches_within`. The arguments must be hashable."""
    cached = Remembered(function)
    _CACHES.append(cached)
    return cached


def _resize_all(entries: int) -> None:
    share = min(entries // max(len(_CACHES), 1), MOST_ENTRIES)
    for cached in _CACHES:
        cached.resize(share)


@contextlib.contextmanager
def caches_within(entries: int | None) -> Iterator[None]:
    """Gives every cache an even share of `entries` (at most `MOST_ENTRIES` each) while inside, their usual size
    again on leaving; nothing when None. A batch's memory stays bounded by its budget, at the price of computing
    again the values a smaller cache lets go. Results held on entering and leaving are dropped."""
    if entries is None:
        yield
        return
    _resize_all(entries)
    try:
        yield
    finally:
        _resize_all(MOST_ENTRIES * len(_CACHES))


def remembered_entries() -> int:
    """The entries held by all the caches together."""
    return sum(cached.entries for cached in _CACHES)


class LastSeen(Generic[R]):
    """`function` with its results for the last `size` calls kept, its arguments told apart by identity: for
    immutable values costly to hash that are asked about several times in a row, such as a profile's state viewed
    before, after and ahead of one change. The arguments are held while their result is, so that their identities
    cannot pass to other objects meanwhile."""

    def __init__(self, function: Callable[..., R], size: int = 8) -> None:
        functools.update_wrapper(self, function)
        self._function = function
        self._size = size
        self._results: dict[tuple[int, ...], tuple[tuple[object, ...], R]] = {}

    def __call__(self, *arguments: object) -> R:
        key = tuple(map(id, arguments))
        held = self._results.get(key)
        if held is not None and all(map(operator.is_, held[0], arguments)):
            return held[1]
        result = self._function(*arguments)
        if len(self._results) >= self._size:
            # The oldest goes: dicts keep their insertion order.
            del self._results[next(iter(self._results))]
        self._results[key] = (arguments, result)
        return result
