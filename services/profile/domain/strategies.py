"""Merge strategies (most recent, oldest, sum, union, max, min): how two parts of one person's profile combine."""

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from shared.records import quick_init

T = TypeVar("T")


@quick_init
@dataclass(frozen=True, slots=True, order=True)
class Stamp:
    """When a fact happened and which event told it: a total order, so "most recent" never depends on arrival."""

    time: datetime
    event_id: str


@quick_init
@dataclass(frozen=True, slots=True)
class Stamped(Generic[T]):
    """A value and the fact it came from."""

    value: T
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Strategy:
    """A named way to combine two values of one field.

    Every strategy is commutative and associative and has the field's empty value as identity, so a profile
    folded from events in any order, or merged from any split of them, is the same profile.
    """

    name: str
    combine: Callable[[Any, Any], Any]


def _stamp_of(value: Any) -> Stamp:
    return value if isinstance(value, Stamp) else cast(Stamp, value.stamp)


def _most_recent(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if _stamp_of(b) > _stamp_of(a) else a


def _oldest(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if _stamp_of(b) < _stamp_of(a) else a


def _max(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _min(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _sum(a: Any, b: Any) -> Any:
    return a + b


def _union(a: frozenset[Any], b: frozenset[Any]) -> frozenset[Any]:
    if not a:
        return b
    if not b:
        return a
    return a | b


def _all(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    # Both sides are sorted, and stay so: the merged history reads the same whatever the order of arrival.
    if not a:
        return b
    if not b:
        return a
    return tuple(heapq.merge(a, b))


MOST_RECENT = Strategy("most_recent", _most_recent)
OLDEST = Strategy("oldest", _oldest)
MAX = Strategy("max", _max)
MIN = Strategy("min", _min)
SUM = Strategy("sum", _sum)
UNION = Strategy("union", _union)
ALL = Strategy("all", _all)


def per_key(inner: Strategy) -> Strategy:
    """Maps merged key by key; values under a key both sides hold combine with `inner`."""

    def combine(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> Mapping[Any, Any]:
        if not a:
            return b
        if not b:
            return a
        # Copy the larger side and walk the smaller, so folding n events costs n log n, not n².
        big, small, small_first = (a, b, False) if len(a) >= len(b) else (b, a, True)
        merged = dict(big)
        for key, value in small.items():
            if key in merged:
                merged[key] = inner.combine(value, merged[key]) if small_first else inner.combine(merged[key], value)
            else:
                merged[key] = value
        return merged

    return Strategy(f"per_key({inner.name})", combine)


def field_by_field(table: Mapping[str, Strategy]) -> Strategy:
    """Records of one dataclass merged field by field, each with the strategy `table` names for it."""

    def combine(a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        return type(a)(
            **{name: strategy.combine(getattr(a, name), getattr(b, name)) for name, strategy in table.items()}
        )

    return Strategy("field_by_field", combine)


def check_table(record_type: type[Any], table: Mapping[str, Strategy]) -> Mapping[str, Strategy]:
    """`table`, once it names a strategy for every field of `record_type` and nothing else."""
    names = {field.name for field in fields(record_type)}
    if names != set(table):
        missing, unknown = sorted(names - set(table)), sorted(set(table) - names)
        raise RuntimeError(f"merge table of {record_type.__name__}: missing {missing}, unknown {unknown}")
    return table
