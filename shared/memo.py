"""Caches of pure functions over values that recur (names, streets, emails): each bounded, and all of them trimmed
at once by a long run that must keep within a memory budget."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# Entries each cache holds at most: about 20 MB per cache once full, in a long-running service.
MOST_ENTRIES = 1 << 16

_CACHES: list["functools._lru_cache_wrapper[object]"] = []


def remembered(function: Callable[P, R]) -> "functools._lru_cache_wrapper[R]":
    """`function` with its results for the last `MOST_ENTRIES` arguments kept, and the cache listed for
    `keep_within`. The arguments must be hashable."""
    cached = functools.lru_cache(maxsize=MOST_ENTRIES)(function)
    _CACHES.append(cached)
    return cached


def keep_within(entries: int) -> None:
    """Empties every cache holding more than its even share of `entries`: a batch's memory stays bounded by its
    budget rather than by `MOST_ENTRIES`, at the price of computing the values it drops again."""
    share = entries // max(len(_CACHES), 1)
    for cached in _CACHES:
        if cached.cache_info().currsize > share:
            cached.cache_clear()


def remembered_entries() -> int:
    """The entries held by all the caches together."""
    return sum(cached.cache_info().currsize for cached in _CACHES)
