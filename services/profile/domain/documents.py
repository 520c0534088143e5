"""Profile records to plain JSON values and back: text for money and times, key/value lists for maps."""

import dataclasses
import functools
import types
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union, cast, get_args, get_origin, get_type_hints


class DocumentError(ValueError):
    """A stored document that does not describe a profile record."""


# The plain form of each record one call has encoded, by the record's id.
_Seen = dict[int, dict[str, Any]]
_Encoder = Callable[[Any, _Seen], Any]


def to_plain(value: Any) -> Any:
    """`value` as JSON-ready values: Decimal and datetimes as text, maps as lists of `{key, value}` sorted by key,
    records as objects without the fields that hold their default.

    Maps become lists because their keys (emails, ticket ids) may hold dots or start with `$`, which a
    MongoDB-compatible store refuses in field names.
    """
    return _plain(value, {})


def _plain(value: Any, seen: _Seen) -> Any:
    encode = _ENCODERS.get(type(value))
    if encode is None:
        encode = _ENCODERS[type(value)] = _encoder_for(type(value))
    return encode(value, seen)


def _unchanged(value: Any, _seen: _Seen) -> Any:
    return value


def _same(value: Any) -> Any:
    return value


def _encoder_for(kind: type[Any]) -> _Encoder:
    # Chosen once per type: every profile stored goes through here, field by field.
    if issubclass(kind, Enum):
        return lambda value, _seen: value.value
    if kind is type(None) or issubclass(kind, bool | int | float | str):
        return _unchanged
    if issubclass(kind, Decimal):
        return lambda value, _seen: str(value)
    if issubclass(kind, date):  # a datetime too
        return lambda value, _seen: value.isoformat()
    if dataclasses.is_dataclass(kind):
        return _record_encoder(kind)
    if issubclass(kind, Mapping):
        return lambda value, seen: [{"key": key, "value": _plain(value[key], seen)} for key in sorted(value)]
    if issubclass(kind, frozenset):
        return lambda value, seen: sorted(_plain(item, seen) for item in value)
    if issubclass(kind, tuple):
        return lambda value, seen: [_plain(item, seen) for item in value]
    raise TypeError(f"no document form for {kind.__name__}")


_ENCODERS: dict[type[Any], _Encoder] = {}
_NO_DEFAULT = object()


def _record_encoder(record_type: type[Any]) -> _Encoder:
    # (name, the default, whether only a value of the default's very type is the default)
    fields = [
        (field.name, field.default, True)
        if field.default is not dataclasses.MISSING
        else (field.name, field.default_factory(), False)
        if field.default_factory is not dataclasses.MISSING
        else (field.name, _NO_DEFAULT, False)
        for field in dataclasses.fields(record_type)
    ]

    def encode(value: Any, seen: _Seen) -> dict[str, Any]:
        # Records are immutable and shared: one event's stamp is in every field it set, a ticket's purchase is also
        # its acquisition. Each is written once per document; the value it is part of holds it alive meanwhile, so
        # its id names it alone.
        known = seen.get(id(value))
        if known is not None:
            return known
        # A field at its default is left out, and read back as its default: most tickets were never refunded.
        plain: dict[str, Any] = {}
        for name, default, typed in fields:
            item = getattr(value, name)
            if default is not _NO_DEFAULT and (not typed or type(item) is type(default)) and item == default:
                continue
            plain[name] = _plain(item, seen)
        seen[id(value)] = plain
        return plain

    return encode


class _MisfitError(Exception):
    """Where a document stops fitting its type: the path is gathered on the way out, innermost part first."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts: list[str] = []

    def at(self, name: str) -> "_MisfitError":
        self.parts.append(f".{name}")
        return self

    def at_index(self, index: int) -> "_MisfitError":
        self.parts.append(f"[{index}]")
        return self

    @property
    def path(self) -> str:
        return "".join(reversed(self.parts)).removeprefix(".")


def from_plain(document: Any, hint: Any, *, path: str = "") -> Any:
    """The value of type `hint` that `to_plain` turned into `document`; raises `DocumentError` naming the path."""
    try:
        return _decoder(hint)(document)
    except _MisfitError as misfit:
        where = ".".join(part for part in (path, misfit.path) if part)
        raise DocumentError(f"{where or 'document'}: {misfit.reason}") from None
    except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise DocumentError(f"{path or 'document'}: {exc}") from None


Decoder = Callable[[Any], Any]


def _misfit(exc: Exception) -> _MisfitError:
    return exc if isinstance(exc, _MisfitError) else _MisfitError(str(exc))


# What a value that does not fit raises on its way to `from_plain`, which names where it was.
_UNFIT = (_MisfitError, TypeError, ValueError, KeyError, ArithmeticError)


@functools.cache
def _decoder(hint: Any) -> Decoder:
    """The reader of documents of type `hint`, built once per type: profiles are read by the thousand."""
    origin = get_origin(hint)
    arguments = get_args(hint)
    if origin is Union or origin is types.UnionType:
        (inner,) = (argument for argument in arguments if argument is not type(None))
        inner_decoder, optional = _decoder(inner), type(None) in arguments
        return lambda document: None if document is None and optional else inner_decoder(document)
    if hint is Any:
        return _same
    if hint in (str, int, bool):
        return _exactly(hint)
    if hint is Decimal:
        return lambda document: Decimal(_text(document))
    if hint is datetime:
        return _moment
    if hint is date:
        return lambda document: date.fromisoformat(_text(document))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return cast(Decoder, hint)
    if origin in (Mapping, dict):
        return _map_decoder(_decoder(arguments[1]))
    if origin is frozenset:
        item_decoder = _decoder(arguments[0])
        return lambda document: frozenset(item_decoder(item) for item in _list(document))
    if origin is tuple:
        return _tuple_decoder(_decoder(arguments[0]))
    record_type = origin or hint
    if dataclasses.is_dataclass(record_type) and isinstance(record_type, type):
        return _record_decoder(record_type, arguments)
    raise TypeError(f"no document form for {hint!r}")


def _exactly(kind: type[Any]) -> Decoder:
    def decode(document: Any) -> Any:
        if not isinstance(document, kind) or (kind is int and isinstance(document, bool)):
            raise _MisfitError(f"expected {kind.__name__}, found {type(document).__name__}")
        return document

    return decode


def _moment(document: Any) -> datetime:
    moment = datetime.fromisoformat(_text(document))
    if moment.tzinfo is None:
        raise _MisfitError(f"{document} has no time zone")
    return moment


def _map_decoder(value_decoder: Decoder) -> Decoder:
    def decode(document: Any) -> dict[str, Any]:
        decoded: dict[str, Any] = {}
        for item in _list(document):
            key = _text(item["key"])
            try:
                decoded[key] = value_decoder(item["value"])
            except _UNFIT as exc:
                raise _misfit(exc).at(key) from None
        return decoded

    return decode


def _tuple_decoder(item_decoder: Decoder) -> Decoder:
    def decode(document: Any) -> tuple[Any, ...]:
        items = _list(document)
        try:
            return tuple(item_decoder(item) for item in items)
        except _UNFIT as exc:
            # Found again only now, on the way out: the index costs nothing while every item fits.
            index = next(index for index, item in enumerate(items) if not _fits(item_decoder, item))
            raise _misfit(exc).at_index(index) from None

    return decode


def _fits(decoder: Decoder, document: Any) -> bool:
    try:
        decoder(document)
    except _UNFIT:
        return False
    return True


def _record_decoder(record_type: type[Any], arguments: tuple[Any, ...]) -> Decoder:
    bound = dict(zip(getattr(record_type, "__parameters__", ()), arguments, strict=False))
    fields = [
        (name, _decoder(bound.get(field_hint, field_hint)), _required(record_type, name))
        for name, field_hint in _field_hints(record_type).items()
    ]

    def decode(document: Any) -> Any:
        if not isinstance(document, dict):
            raise _MisfitError(f"expected an object, found {type(document).__name__}")
        values: dict[str, Any] = {}
        for name, field_decoder, required in fields:
            if name in document:
                try:
                    values[name] = field_decoder(document[name])
                except _UNFIT as exc:
                    raise _misfit(exc).at(name) from None
            elif required:
                raise _MisfitError(f"{name!r} is missing")
        return record_type(**values)

    return decode


def _field_hints(record_type: type[Any]) -> dict[str, Any]:
    hints = get_type_hints(record_type)
    return {field.name: hints[field.name] for field in dataclasses.fields(record_type)}


def _required(record_type: type[Any], name: str) -> bool:
    (field,) = (field for field in dataclasses.fields(record_type) if field.name == name)
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _text(document: Any) -> str:
    if not isinstance(document, str):
        raise _MisfitError(f"expected text, found {type(document).__name__}")
    return document


def _list(document: Any) -> list[Any]:
    if not isinstance(document, list):
        raise _MisfitError(f"expected a list, found {type(document).__name__}")
    return document
