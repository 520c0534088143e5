"""The console's words in French and English: one catalog, checked whole at start-up, and the dates, numbers and
amounts written the way each language writes them."""

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import yaml


class Language(StrEnum):
    FR = "fr"
    EN = "en"


# French first: the console's first users are Québec organisations.
DEFAULT_LANGUAGE = Language.FR
# Times are shown in the organisation's own zone (`PARTERRE_PROFILE_TIMEZONE`, this by default); they are stored in
# UTC.
DISPLAY_ZONE = ZoneInfo("America/Montreal")

_MONTHS = {
    Language.FR: (
        *("janvier", "février", "mars", "avril", "mai", "juin"),
        *("juillet", "août", "septembre", "octobre", "novembre", "décembre"),
    ),
    Language.EN: (
        *("January", "February", "March", "April", "May", "June"),
        *("July", "August", "September", "October", "November", "December"),
    ),
}
_KEY = re.compile(r"^[a-z0-9_.-]+$")
# A message said of a count has two entries, `<key>.one` and `<key>.other`: the form each language uses for one
# thing (in French also for none), and for any other number.
_PLURAL_FORMS = (".one", ".other")
# A month as profile names a trigger's period (`2026-03`).
_MONTH_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_DAY_PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_MOMENT_PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_LANGUAGE_CODES = frozenset(language.value for language in Language)
# A weight as RFC 9110 writes it, 0 to 1 (up to three decimals there; more are read too).
_WEIGHT = re.compile(r"0(?:\.[0-9]*)?|1(?:\.0*)?")
# An unreadable weight (`q=high`, `q=2`, `q=`) comes from a header written by hand or a broken client, never from a
# browser: its range still names a language the reader reads, so it stays acceptable, but ranks below every range
# weighted properly rather than crashing the page or being taken for `q=0`.
_UNREADABLE_WEIGHT = 0.001


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Catalog:
    texts: Mapping[str, Mapping[Language, str]]

    @classmethod
    def from_yaml(cls, text: str, *, origin: str = "messages.yaml") -> "Catalog":
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise CatalogError(f"{origin}: expected a mapping of message keys")
        texts: dict[str, dict[Language, str]] = {}
        for key, entry in data.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise CatalogError(f"{origin}: {key!r} is not a message key (lower case, digits, . _ -)")
            if not isinstance(entry, dict) or set(entry) != {language.value for language in Language}:
                raise CatalogError(f"{origin}: {key} must give exactly `fr` and `en`")
            translations = {}
            for language in Language:
                value = entry[language.value]
                if not isinstance(value, str) or not value.strip():
                    raise CatalogError(f"{origin}: {key}.{language.value} is empty")
                translations[language] = value
            fields = {language: _placeholders(value) for language, value in translations.items()}
            if fields[Language.FR] != fields[Language.EN]:
                raise CatalogError(f"{origin}: {key} names different placeholders in fr and en")
            texts[key] = translations
        for key in texts:
            for form, sibling in (_PLURAL_FORMS, reversed(_PLURAL_FORMS)):
                if key.endswith(form) and key.removesuffix(form) + sibling not in texts:
                    raise CatalogError(f"{origin}: {key} needs {key.removesuffix(form)}{sibling} as its other form")
        return cls(texts)

    def text(self, key: str, language: Language, **values: Any) -> str:
        """The message in `language`; a key missing from the catalog is a bug, so it raises KeyError."""
        template = self.texts[key][language]
        return template.format(**values) if values else template

    def counted(self, key: str, count: int | float | Decimal | None, language: Language, **values: Any) -> str:
        """The message saying `count` things, in the form `language` uses for that number (`<key>.one` or
        `<key>.other`), with `{count}` written as the language writes numbers."""
        form = ".one" if count is not None and _is_singular(Decimal(str(count)), language) else ".other"
        return self.text(f"{key}{form}", language, count=format_number(count, language), **values)

    def has(self, key: str) -> bool:
        return key in self.texts

    def label(self, prefix: str, code: str, language: Language) -> str:
        """The message for a code the services report (`prefix` + code), or the code itself when the catalog does
        not know it: a service may report a code newer than the console, and a page must still show it."""
        key = f"{prefix}{code}"
        return self.text(key, language) if key in self.texts else code


def _is_singular(count: Decimal, language: Language) -> bool:
    # CLDR's rules: French says "0 billet" and "1,5 billet", English "0 tickets" and "1 ticket".
    if language is Language.FR:
        return 0 <= count < 2
    return count == 1


def _placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def choose_language(cookie: str | None, accept_language: str | None) -> Language:
    """The language asked for by the staff member's choice (a cookie), else the one the browser prefers.

    Accept-Language is read by its weights (RFC 9110 §12.5.4): the known language weighted highest wins, the one named
    first on a tie; `q=0` means not acceptable; `fr-CA` names French; `*` stands for every language not named. French
    when the header names no acceptable known language: a page in some language is better than none.
    """
    if cookie in _LANGUAGE_CODES:
        return Language(cookie)
    # Per language (or `*`): its weight, and where the range giving it that weight stands in the header.
    ranked: dict[str, tuple[float, int]] = {}
    for position, item in enumerate((accept_language or "").split(",")):
        language_range, *parameters = item.split(";")
        primary = language_range.strip().lower().split("-")[0]
        if primary not in _LANGUAGE_CODES and primary != "*":
            continue
        weight = _weight(parameters)
        if primary not in ranked or weight > ranked[primary][0]:
            ranked[primary] = (weight, position)
    wildcard = ranked.get("*", (0.0, 0))
    acceptable = []
    for language in Language:
        weight, position = ranked.get(language.value, wildcard)
        if weight > 0:
            # Both languages may get their weight from one `*`: then the default, as with no header.
            acceptable.append((-weight, position, language is not DEFAULT_LANGUAGE, language))
    return min(acceptable)[-1] if acceptable else DEFAULT_LANGUAGE


def _weight(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            return float(value) if _WEIGHT.fullmatch(value) else _UNREADABLE_WEIGHT
    return 1.0


def format_date(value: date | datetime | str | None, language: Language, zone: tzinfo = DISPLAY_ZONE) -> str:
    moment = _parsed(value)
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        moment = _local(moment, zone).date()
    month = _MONTHS[language][moment.month - 1]
    if language is Language.FR:
        day = "1er" if moment.day == 1 else str(moment.day)
        return f"{day} {month} {moment.year}"
    return f"{month} {moment.day}, {moment.year}"


def format_datetime(value: datetime | str | None, language: Language, zone: tzinfo = DISPLAY_ZONE) -> str:
    moment = _parsed(value)
    if moment is None:
        return "—"
    if not isinstance(moment, datetime):
        return format_date(moment, language)
    local = _local(moment, zone)
    clock = f"{local.hour} h {local.minute:02d}" if language is Language.FR else f"{local:%H:%M}"
    return f"{format_date(local, language, zone)}, {clock}"


def _local(moment: datetime, zone: tzinfo) -> datetime:
    # A moment at the ends of the calendar (0001-01-01T00:00Z, which some systems send for "no date") has no local
    # time before or after it: shown as given.
    try:
        return moment.astimezone(zone)
    except (OverflowError, ValueError):
        return moment


def format_period(value: str, language: Language, zone: tzinfo = DISPLAY_ZONE) -> str:
    """A trigger's period as the page's language says it: a month (`2026-03`) as `mars 2026`, a day or a moment as
    a date; anything else (a year, a season's label, an event's id) as it is."""
    month = _MONTH_PERIOD.match(value)
    if month is not None:
        return f"{_MONTHS[language][int(month.group(2)) - 1]} {month.group(1)}"
    # Only the shapes profile writes for calendar periods: an event's or a performance's id may read as a date too.
    if _DAY_PERIOD.match(value):
        return format_date(date.fromisoformat(value), language, zone)
    if _MOMENT_PERIOD.match(value):
        return format_datetime(datetime.fromisoformat(value), language, zone)
    return value


def format_number(value: int | float | Decimal | str | None, language: Language, *, decimals: int = 0) -> str:
    number = _decimal(value)
    if number is None:
        return "—"
    text = f"{number:,.{decimals}f}"
    if language is Language.FR:
        # French writes 1 234,50: a narrow no-break space between thousands, a comma before decimals.
        return text.replace(",", "\u202f").replace(".", ",")
    return text


def format_money(value: int | float | Decimal | str | None, language: Language) -> str:
    number = _decimal(value)
    if number is None:
        return "—"
    amount = format_number(number, language, decimals=2)
    return f"{amount}\u00a0$" if language is Language.FR else f"${amount}"


def format_percent(value: int | float | Decimal | str | None, language: Language, *, decimals: int = 0) -> str:
    """`value` (a percentage) as each language writes it: `12,5 %` (a no-break space) and `12.5%`."""
    number = format_number(value, language, decimals=decimals)
    if number == "—":
        return number
    return f"{number}\u00a0%" if language is Language.FR else f"{number}%"


def _decimal(value: int | float | Decimal | str | None) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def is_date(value: object) -> bool:
    """Whether `value` is shown as a date by `format_date` (not as a dash)."""
    return isinstance(value, date | str) and _parsed(value) is not None


def _parsed(value: date | datetime | str | None) -> date | datetime | None:
    """A date stays a day; a moment without a zone is taken as UTC, the zone the platform stores."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == len("2026-10-17") else datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
