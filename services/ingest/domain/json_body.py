"""Reading a request body as JSON and nothing more: what Python's reader takes beyond JSON is refused."""

import json
import math
from typing import Any

import pydantic_core

from shared.bilingual import json_message_fr

# Valid JSON that Python declines to build: an integer of more than 4,300 digits, arrays nested thousands deep.
UNREADABLE_JSON_EN = "The body holds a number too long or values nested too deep to be read."
UNREADABLE_JSON_FR = "Le corps contient un nombre trop long ou des valeurs trop imbriquées pour être lu."


class MalformedJsonError(ValueError):
    """The body is not JSON a sender meant; `en` and `fr` say why, in words they can act on."""

    def __init__(self, en: str, fr: str) -> None:
        super().__init__(en)
        self.en = en
        self.fr = fr


def read_json_body(body: bytes) -> Any:
    """The body's JSON value; raises `MalformedJsonError` for what is not JSON, `NaN`, `Infinity` and numbers
    beyond a double included, which Python would otherwise read and later write out as `null`."""
    try:
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_number)
    except NotJsonConstantError as exc:
        raise MalformedJsonError(
            en=f"The body is not valid JSON: {exc.constant} is not a JSON value.",
            fr=f"Le corps n'est pas du JSON valide : {exc.constant} n'est pas une valeur JSON.",
        ) from None
    except NumberOutOfRangeError as exc:
        # Cut short: the number may be most of the body.
        number = exc.number if len(exc.number) <= 40 else f"{exc.number[:20]}…{exc.number[-10:]}"
        raise MalformedJsonError(
            en=f"The body holds {number}, a number too large to be read.",
            fr=f"Le corps contient {number}, un nombre trop grand pour être lu.",
        ) from None
    except UnicodeDecodeError as exc:
        # Often a body in Windows-1252 (`é` as the byte 0xE9): the byte that stopped the reading is named.
        byte = exc.object[exc.start : exc.start + 1].hex().upper()
        raise MalformedJsonError(
            en=f"The body is not valid JSON: it is not UTF-8 (byte 0x{byte} at position {exc.start}); "
            "send JSON in UTF-8.",
            fr=f"Le corps n'est pas du JSON valide : il n'est pas en UTF-8 (octet 0x{byte} à la position "
            f"{exc.start}) ; envoyez le JSON en UTF-8.",
        ) from None
    except json.JSONDecodeError as exc:
        raise MalformedJsonError(
            en=f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            fr=f"Le corps n'est pas du JSON valide : {json_message_fr(exc.msg)} à la ligne {exc.lineno}, colonne "
            f"{exc.colno}.",
        ) from None
    except (ValueError, RecursionError):
        raise MalformedJsonError(en=UNREADABLE_JSON_EN, fr=UNREADABLE_JSON_FR) from None


class NotJsonConstantError(ValueError):
    """`NaN`, `Infinity` or `-Infinity`: Python's reader takes them, JSON has no such values."""

    def __init__(self, constant: str) -> None:
        super().__init__(constant)
        self.constant = constant


def _refuse_constant(constant: str) -> Any:
    raise NotJsonConstantError(constant)


class NumberOutOfRangeError(ValueError):
    """A JSON number beyond what a double holds (`1e400`): Python reads it as infinity, published as `null`."""

    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.number = number


def _finite_number(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise NumberOutOfRangeError(text)
    return number


class UnstorableJsonError(ValueError):
    """JSON read whole that cannot be written out again as it is stored and published; `en` and `fr` say why."""

    def __init__(self, en: str, fr: str, *, nested_too_deep: bool) -> None:
        super().__init__(en)
        self.en = en
        self.fr = fr
        self.nested_too_deep = nested_too_deep


LONE_SURROGATE_EN = "a \\u escape of half of a surrogate pair (\\ud800), which is not text"
LONE_SURROGATE_FR = "un échappement \\u d'une moitié de paire de substitution (\\ud800), qui n'est pas du texte"
NESTED_TOO_DEEP_EN = "values nested too deep to be stored"
NESTED_TOO_DEEP_FR = "des valeurs trop imbriquées pour être enregistrées"


def compact_json(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON, as it is stored and published; raises `UnstorableJsonError` for a string
    holding half of a surrogate pair (JSON escapes it, UTF-8 cannot write it) and for values nested deeper than
    the writer goes (about 255 levels, where the reader takes about a thousand)."""
    try:
        return pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError as exc:
        if "depth" in str(exc):
            raise UnstorableJsonError(NESTED_TOO_DEEP_EN, NESTED_TOO_DEEP_FR, nested_too_deep=True) from None
        raise UnstorableJsonError(LONE_SURROGATE_EN, LONE_SURROGATE_FR, nested_too_deep=False) from None
