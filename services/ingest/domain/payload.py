"""Reading fields out of a vendor's JSON payload, noting a precise error at its JSON path when one is unusable."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.ingest.domain.errors import Problems

MISSING = "missing"
WHOLE_PAYLOAD = "$"
# A whole number written as text is read up to this many digits: quantities and counts (Python reads no more than
# 4,300, and raises past that).
MAX_INTEGER_DIGITS = 18
# An amount of 10^15 or more is no money anyone handles: refused here, before it is added to others (a sum of
# `1e1000000` and another amount overflows the decimal context).
LARGEST_AMOUNT_EXPONENT = 15


@dataclass(frozen=True)
class JsonNode:
    """One value of a JSON payload and its path (`line_items.0.price`); absent values read as None."""

    value: Any
    path: str
    problems: Problems

    @classmethod
    def root(cls, payload: Any, problems: Problems) -> "JsonNode":
        return cls(payload, "", problems)

    def __getitem__(self, key: str | int) -> "JsonNode":
        path = f"{self.path}.{key}" if self.path else str(key)
        if isinstance(key, str) and isinstance(self.value, Mapping):
            return JsonNode(self.value.get(key), path, self.problems)
        if isinstance(key, int) and isinstance(self.value, list) and 0 <= key < len(self.value):
            return JsonNode(self.value[key], path, self.problems)
        return JsonNode(None, path, self.problems)

    @property
    def where(self) -> str:
        """The path to name in an error: `$` for the payload itself."""
        return self.path or WHOLE_PAYLOAD

    @property
    def absent(self) -> bool:
        return self.value is None or (isinstance(self.value, str) and not self.value.strip())

    def _missing(self, required: bool) -> None:
        if required:
            self.problems.add(self.where, "is required but missing or empty", MISSING)

    def _wrong(self, expected: str) -> None:
        self.problems.add(self.where, f"should be {expected}, not {_json_kind(self.value)}", "type_error")

    def is_object(self, *, required: bool = False) -> bool:
        """Whether the value is a JSON object; a value of another kind is noted as an error."""
        if self.value is None:
            self._missing(required)
            return False
        if not isinstance(self.value, Mapping):
            self._wrong("an object")
            return False
        return True

    def elements(self, *, required: bool = False) -> list["JsonNode"]:
        """The nodes of a JSON array; `required` also refuses an empty one."""
        if self.value is None or self.value == []:
            self._missing(required)
            return []
        if not isinstance(self.value, list):
            self._wrong("an array")
            return []
        return [self[index] for index in range(len(self.value))]

    def text(self, *, required: bool = False) -> str | None:
        """The value as trimmed text; numbers are accepted, since vendors send ids and codes either way."""
        if self.absent:
            self._missing(required)
            return None
        if isinstance(self.value, str):
            return self.value.strip()
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            return str(self.value)
        self._wrong("text")
        return None

    def identifier(self, *, required: bool = False) -> str | None:
        """An upstream id: Shopify sends integers, other systems text."""
        return self.text(required=required)

    def decimal(self, *, required: bool = False) -> Decimal | None:
        """A money amount: Shopify sends decimal strings (`"199.00"`), some fields plain JSON numbers."""
        if self.absent:
            self._missing(required)
            return None
        value = self.value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self._wrong("a decimal number")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self._wrong("a finite number")
            return None
        try:
            # repr() of a float is its shortest round-tripping form: 195.66 stays 195.66, not 195.659999….
            amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            self.problems.add(self.where, "is not a decimal number", "decimal_parsing")
            return None
        if not amount.is_finite():
            self.problems.add(self.where, "is not a finite decimal number", "decimal_parsing")
            return None
        if amount and amount.adjusted() >= LARGEST_AMOUNT_EXPONENT:
            self.problems.add(
                self.where,
                f"is {_shown(value)}, too large to be an amount",
                "number_too_large",
                fr=f"vaut {_shown(value)}, trop grand pour être un montant",
            )
            return None
        return amount

    def integer(self, *, required: bool = False) -> int | None:
        if self.absent:
            self._missing(required)
            return None
        value = self.value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            # `2.0`: some writers make every JSON number a float.
            return int(value)
        text = value.strip() if isinstance(value, str) else ""
        # ASCII digits only: `str.isdigit` takes `²` too, which `int` refuses.
        if text.isascii() and text.isdigit():
            if len(text.lstrip("0")) > MAX_INTEGER_DIGITS:
                self.problems.add(
                    self.where,
                    f"is {_shown(text)}, a whole number of more than {MAX_INTEGER_DIGITS} digits",
                    "number_too_large",
                    fr=f"vaut {_shown(text)}, un nombre entier de plus de {MAX_INTEGER_DIGITS} chiffres",
                )
                return None
            return int(text)
        self._wrong("a whole number")
        return None

    def flag(self) -> bool | None:
        """A JSON boolean, or None when absent or of another kind (flags only ever add optional facts)."""
        return self.value if isinstance(self.value, bool) else None

    def timestamp(self) -> datetime | None:
        """An RFC 3339 time with its offset, or None when absent, unparseable or without an offset."""
        if not isinstance(self.value, str):
            return None
        try:
            parsed = datetime.fromisoformat(self.value.strip())
        except ValueError:
            return None
        return parsed if parsed.utcoffset() is not None else None


def first_present(*nodes: JsonNode) -> JsonNode:
    """The first node holding a value, else the first one (so a missing value is reported at the preferred path)."""
    return next((node for node in nodes if not node.absent), nodes[0])


def _shown(value: Any) -> str:
    """A value as an error names it, cut short: it may be most of the payload."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}…{text[-10:]}"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and not value.is_integer():
        return "a number with decimals"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
