"""Profile records to plain JSON values and back: text for money and times, key/value lists for maps."""

import dataclasses
import functools
import types
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints


class DocumentError(ValueError):
    """A stored document that does not describe a profile record."""


def to_plain(value: Any) -> Any:
    """`value` as JSON-ready values: Decimal and datetimes as text, maps as lists of `{key, value}` sorted by key,
    records as objects without the fields that hold their default.

    Maps become lists because their keys (emails, ticket ids) may hold dots or start with `$`, which a
    MongoDB-compatible store refuses in field names.
    """
    if (
        value is None
        or isinstance(value, bool | int | float)
        or (isinstance(value, str) and not isinstance(value, Enum))
    ):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # A field at its default is left out, and read back as its default: most tickets were never refunded.
        return {
            field.name: to_plain(field_value)
            for field in dataclasses.fields(value)
            if not _is_default(field, field_value := getattr(value, field.name))
        }
    if isinstance(value, Mapping):
        return [{"key": key, "value": to_plain(value[key])} for key in sorted(value)]
    if isinstance(value, frozenset):
        return sorted(to_plain(item) for item in value)
    if isinstance(value, tuple):
        return [to_plain(item) for item in value]
    raise TypeError(f"no document form for {type(value).__name__}")


def _is_default(field: "dataclasses.Field[Any]", value: Any) -> bool:
    if field.default is not dataclasses.MISSING:
        return type(value) is type(field.default) and bool(value == field.default)
    if field.default_factory is not dataclasses.MISSING:
        return bool(value == field.default_factory())
    return False


def from_plain(document: Any, hint: Any, *, path: str = "") -> Any:
    """The value of type `hint` that `to_plain` turned into `document`; raises `DocumentError` naming the path."""
    try:
        return _decode(document, hint, path)
    except DocumentError:
        raise
    except (TypeError, ValueError, KeyError, ArithmeticError) as exc:
        raise DocumentError(f"{path or 'document'}: {exc}") from None


def _decode(document: Any, hint: Any, path: str) -> Any:
    origin = get_origin(hint)
    arguments = get_args(hint)
    if origin is Union or origin is types.UnionType:
        if document is None and type(None) in arguments:
            return None
        (inner,) = (argument for argument in arguments if argument is not type(None))
        return _decode(document, inner, path)
    if hint is Any:
        return document
    if hint in (str, int, bool):
        if not isinstance(document, hint) or (hint is int and isinstance(document, bool)):
            raise DocumentError(f"{path}: expected {hint.__name__}, found {type(document).__name__}")
        return document
    if hint is Decimal:
        return Decimal(_text(document, path))
    if hint is datetime:
        moment = datetime.fromisoformat(_text(document, path))
        if moment.tzinfo is None:
            raise DocumentError(f"{path}: {document} has no time zone")
        return moment
    if hint is date:
        return date.fromisoformat(_text(document, path))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(document)
    if origin in (Mapping, dict):
        _, value_hint = arguments
        return {
            _text(item["key"], path): _decode(item["value"], value_hint, f"{path}.{item['key']}")
            for item in _list(document, path)
        }
    if origin is frozenset:
        return frozenset(_decode(item, arguments[0], path) for item in _list(document, path))
    if origin is tuple:
        return tuple(
            _decode(item, arguments[0], f"{path}[{index}]") for index, item in enumerate(_list(document, path))
        )
    record_type = origin or hint
    if dataclasses.is_dataclass(record_type) and isinstance(record_type, type):
        if not isinstance(document, dict):
            raise DocumentError(f"{path}: expected an object, found {type(document).__name__}")
        hints = _field_hints(record_type)
        bound = dict(zip(getattr(record_type, "__parameters__", ()), arguments, strict=False))
        return record_type(
            **{
                name: _decode(document[name], bound.get(field_hint, field_hint), f"{path}.{name}".lstrip("."))
                for name, field_hint in hints.items()
                if name in document or _required(record_type, name)
            }
        )
    raise TypeError(f"no document form for {hint!r}")


@functools.cache
def _field_hints(record_type: type[Any]) -> dict[str, Any]:
    hints = get_type_hints(record_type)
    return {field.name: hints[field.name] for field in dataclasses.fields(record_type)}


@functools.cache
def _required(record_type: type[Any], name: str) -> bool:
    (field,) = (field for field in dataclasses.fields(record_type) if field.name == name)
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _text(document: Any, path: str) -> str:
    if not isinstance(document, str):
        raise DocumentError(f"{path}: expected text, found {type(document).__name__}")
    return document


def _list(document: Any, path: str) -> list[Any]:
    if not isinstance(document, list):
        raise DocumentError(f"{path}: expected a list, found {type(document).__name__}")
    return document
