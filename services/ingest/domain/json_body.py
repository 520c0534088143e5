"""Reading a request body as JSON and nothing more: what Python's reader takes beyond JSON is refused."""

import json
import math
from typing import Any

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
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJsonError(
            en=f"The body is not valid JSON: {exc}.",
            fr=f"Le corps n'est pas du JSON valide : {exc}.",
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
