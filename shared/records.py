"""Copies of frozen dataclasses with some fields changed, for the records a hot path copies at every change."""

import dataclasses
import inspect
import operator
import types
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class _Fields:
    names: tuple[str, ...]
    known: frozenset[str]
    # The values of `names` in a tuple, read at once.
    values: Callable[[Any], tuple[Any, ...]]
    # Whether every field is kept in the instance's `__dict__` (none in a slot, of its class or of a base).
    in_dict: bool


# Class → its fields, or None where `dataclasses.replace` does the work (see `replaced`).
_FIELDS: dict[type[Any], _Fields | None] = {}


def replaced(record: R, /, **changes: Any) -> R:
    """What `dataclasses.replace(record, **changes)` gives, in a fraction of its time: `replace` builds the arguments
    of `__init__` from every field, then `__init__` sets each again one by one; this copies the fields as they are
    (a profile's stored record: 11.5 µs with `replace`). Only for a dataclass whose every field `__init__` sets and
    that has no `__post_init__` (nothing `__init__` would work out); any other goes to `dataclasses.replace`. A name
    that is no field is refused, as `replace` refuses it; what is not a field (a cached property) is not copied."""
    kind = type(record)
    try:
        fields = _FIELDS[kind]
    except KeyError:
        fields = _FIELDS[kind] = _copied_fields(kind)
    if fields is None:
        return dataclasses.replace(record, **changes)  # type: ignore[type-var]
    if not fields.known.issuperset(changes):
        unknown = ", ".join(sorted(set(changes).difference(fields.known)))
        raise TypeError(f"{kind.__name__} has no field {unknown}")
    copy = object.__new__(kind)
    values = zip(fields.names, fields.values(record), strict=True)
    if fields.in_dict:
        copy.__dict__.update(values, **changes)
    else:
        set_field = object.__setattr__
        for name, value in values:
            set_field(copy, name, value)
        for name, value in changes.items():
            set_field(copy, name, value)
    return copy


def _copied_fields(kind: type[Any]) -> _Fields | None:
    if not dataclasses.is_dataclass(kind) or hasattr(kind, "__post_init__"):
        return None
    fields = dataclasses.fields(kind)
    if not all(field.init for field in fields):
        return None
    names = tuple(field.name for field in fields)
    slotted = any(isinstance(inspect.getattr_static(kind, name, None), types.MemberDescriptorType) for name in names)
    return _Fields(names, frozenset(names), _reader(names), in_dict=not slotted)


def _reader(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) > 1:
        return operator.attrgetter(*names)
    # `attrgetter` of one name gives the value itself, and of none is refused.
    return lambda record: tuple(getattr(record, name) for name in names)
