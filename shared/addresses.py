"""The one line of a postal address a trigger carries: profile writes it, notify checks it against the address the
person has now, so both must write it alike."""

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

# The parts of the line, in the order an envelope gives them.
ADDRESS_LINE_FIELDS = ("street", "address_2", "city", "region", "postal_code")
# Where the organisations are: their patrons' addresses here need no country on the envelope.
DOMESTIC_COUNTRY = "CA"


def postal_line(fields: Mapping[str, Any]) -> str:
    """One line of the address fields given; empty without a postal code, which no mailing can lack. A country other
    than Canada ends it: mail abroad is sorted by it first."""
    if not _present(fields.get("postal_code")):
        return ""
    parts = [str(fields[name]) for name in ADDRESS_LINE_FIELDS if _present(fields.get(name))]
    country = fields.get("country")
    if _present(country) and country != DOMESTIC_COUNTRY:
        parts.append(str(country))
    return ", ".join(parts)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def postal_code_key(postal_code: str | None) -> str:
    """A postal code as compared: without case, spaces or dashes, as sources write `sw1a 2aa` or `H2J-2L1`."""
    return "".join(character for character in (postal_code or "").upper() if character not in " -")


def postal_code_of_line(line: str) -> str:
    """The postal code of a line `postal_line` wrote, as `postal_code_key` gives it: its last part, or the one before
    a foreign country's code."""
    return postal_code_key(_postal_code_part(line)[1])


def _postal_code_part(line: str) -> tuple[list[str], str]:
    """The parts of a line before its postal code, and the postal code as written."""
    parts = [part.strip() for part in line.split(",")]
    for index in range(len(parts) - 1, -1, -1):
        part = parts[index]
        if not (len(part) == 2 and part.isalpha() and part.isupper()):
            return parts[:index], part
    return [], ""


_NUMBER = re.compile(r"\d+")


def _numbers(text: str) -> Counter[str]:
    return Counter(found.lstrip("0") or "0" for found in _NUMBER.findall(text))


def numbers_of_line(line: str) -> Counter[str]:
    """The numbers of a line `postal_line` wrote before its postal code (whose digits are no building's), each as
    often as it appears: `3-4521 rue Saint-Denis`, `app. 3, 4521 rue Saint-Denis` give 3 and 4521, `11 rue de la
    Roquette, Paris 11e` gives 11 twice."""
    before, _ = _postal_code_part(line)
    return _numbers(" ".join(before))


def same_building(then: Counter[str], now: Counter[str]) -> bool:
    """Whether two lines of one postal code, by their numbers, may name one place: the same numbers, or one giving
    more (an apartment, a building's number given since). A move changes one the other gives."""
    return then <= now or now <= then
