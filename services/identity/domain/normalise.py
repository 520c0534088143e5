"""Turning what upstream systems send into the canonical form identity matches on: emails, phones, names, addresses."""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from services.identity.domain.records import NormalisedRecord, PersonRecord
from shared.bilingual import in_language, quoted
from shared.emails import normalise_email as normalise_email  # shared with profile's look-ups, named here too
from shared.events import Language
from shared.memo import remembered
from shared.names import fold_name, folded_words
from shared.phones import without_extension
from shared.records import quick_init
from shared.text import without_format_characters

# A warning shows at most this much of the value, so one garbled field cannot bloat every record it sits on.
_SHOWN_LENGTH = 80

# The shape nearly every North American number takes, read without the full parser (about four times as fast).
_NORTH_AMERICAN = re.compile(
    r"(?:(?P<international>\+\s*1)|1)?[\s.-]*\(?\s*(?P<area>[2-9][0-9]{2})\s*\)?[\s.-]*(?P<exchange>[2-9][0-9]{2})"
    r"[\s.-]*(?P<line>[0-9]{4})"
)
_NORTH_AMERICAN_COUNTRY_CODE = 1

# Words that join a family name to its parts (`de la Fontaine`, `d'Arcy`, `van der Berg`), folded.
NAME_PARTICLES = frozenset(
    {
        "d",
        "da",
        "das",
        "de",
        "del",
        "della",
        "den",
        "der",
        "des",
        "di",
        "do",
        "dos",
        "du",
        "l",
        "la",
        "le",
        "les",
        "van",
        "von",
    }
)

# Street types, folded, to the one token each compares as; both languages share one vocabulary. Not `côte`: in
# Montréal it starts more names (Côte-des-Neiges, Côte-Vertu, Côte-Sainte-Catherine, often written without their
# `chemin` or `boulevard`) than it names a type of street.
_STREET_TYPES = {
    **dict.fromkeys(("rue",), "rue"),
    **dict.fromkeys(("avenue", "av", "ave"), "av"),
    **dict.fromkeys(("boulevard", "boul", "blvd", "bd"), "boul"),
    **dict.fromkeys(("chemin", "ch", "chem"), "ch"),
    **dict.fromkeys(("street", "st"), "st"),
    **dict.fromkeys(("road", "rd"), "rd"),
    **dict.fromkeys(("place", "pl"), "pl"),
    **dict.fromkeys(("rang", "rg"), "rang"),
    **dict.fromkeys(("route", "rte"), "rte"),
    **dict.fromkeys(("drive", "dr"), "dr"),
    **dict.fromkeys(("montee", "mtee"), "montee"),
    **dict.fromkeys(("impasse", "imp"), "imp"),
    **dict.fromkeys(("croissant", "crois"), "crois"),
    **dict.fromkeys(("crescent", "cres"), "cres"),
    **dict.fromkeys(("terrasse", "tsse"), "tsse"),
    **dict.fromkeys(("terrace", "terr"), "terr"),
    **dict.fromkeys(("promenade", "prom"), "prom"),
    **dict.fromkeys(("allee",), "allee"),
    **dict.fromkeys(("ruelle",), "ruelle"),
    **dict.fromkeys(("carre",), "carre"),
    **dict.fromkeys(("square", "sq"), "sq"),
    **dict.fromkeys(("lane", "ln"), "lane"),
    **dict.fromkeys(("court", "crt", "ct"), "crt"),
    **dict.fromkeys(("circle", "cir"), "cir"),
    **dict.fromkeys(("way",), "way"),
    **dict.fromkeys(("parkway", "pkwy", "pky"), "pky"),
    **dict.fromkeys(("highway", "hwy"), "hwy"),
    **dict.fromkeys(("autoroute", "aut"), "aut"),
}
# English puts the type after the name (`Main Street`); these words are a type only there. `St` in front is Saint.
_ENGLISH_ONLY_TYPES = frozenset(
    {"street", "st", "road", "rd", "drive", "dr", "crescent", "cres", "terrace", "terr", "lane", "ln", "court"}
    | {"crt", "ct", "circle", "cir", "way", "parkway", "pkwy", "pky", "highway", "hwy"}
)
_DIRECTIONS = {
    **dict.fromkeys(("ouest", "o", "west", "w"), "o"),
    **dict.fromkeys(("est", "e", "east"), "e"),
    **dict.fromkeys(("nord", "n", "north"), "n"),
    **dict.fromkeys(("sud", "s", "south"), "s"),
}
# Articles and prepositions that people keep or leave out after the type: `chemin (de la) Côte-des-Neiges`.
_STREET_PARTICLES = frozenset({"d", "de", "des", "du", "l", "la", "le", "les"})
_ORDINAL = re.compile(r"([0-9]+)(?:e|er|re|ere|ier|iere|eme|ieme|st|nd|rd|th)")

_UNIT_WORD = r"(?:appartement|app|appt|apt|unit[ée]?|suite|bureau|local|logement|log)(?![^\W\d_])\.?"
# `3-4521 rue Saint-Denis`, `app. 3 - 4521, rue X`, `#3-4521 X`: the Québec habit of writing the unit first.
_UNIT_THEN_NUMBER = re.compile(
    rf"(?:{_UNIT_WORD}\s*)?#?\s*(?P<unit>[0-9]+[A-Za-z]?)\s*-\s*(?P<number>[0-9]+)"
    r"(?:(?P<gap>[-\s]?)(?P<suffix>[A-Za-z](?![^\W\d_])))?[\s,]*",
    re.IGNORECASE,
)
_LEADING_UNIT = re.compile(
    rf"(?:{_UNIT_WORD}\s*#?|#)\s*(?P<unit>[0-9A-Za-z]+)(?:[\s,]*-?[\s,]*)(?=[0-9])", re.IGNORECASE
)
# `4521`, `4521A`, `4521-A`, `4521 A`; a letter after a space may be no suffix (see `_a_spaced_letter_is_a_suffix`).
_NUMBER = re.compile(r"(?P<number>[0-9]+)(?:(?P<gap>[-\s]?)(?P<suffix>[A-Za-z]))?(?![^\W_])[\s,]*", re.IGNORECASE)
_TRAILING_UNIT = re.compile(rf"[\s,]+(?:{_UNIT_WORD}\s*#?|#)\s*(?P<unit>[0-9A-Za-z-]+)\s*$", re.IGNORECASE)
_UNIT_ALONE = re.compile(rf"(?:{_UNIT_WORD}\s*#?|#)\s*(?P<unit>[0-9A-Za-z-]+)", re.IGNORECASE)

_CANADIAN_POSTAL_CODE = re.compile(r"[A-Z][0-9][A-Z][0-9][A-Z][0-9]")
_POSTAL_CODE_SPACING = str.maketrans("", "", " -")
# `A` for a letter's place, `9` for a digit's: `H2J2L1`.
_CANADIAN_POSTAL_CODE_PLACES = "A9A9A9"

_ISO_BIRTH_DATE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})(?:[T ][0-9:.]+(?:Z|[+-][0-9:]+)?)?"
    r"|(?P<compact_year>[0-9]{4})(?P<compact_month>[0-9]{2})(?P<compact_day>[0-9]{2})"
)
EARLIEST_BIRTH_YEAR = 1900
# What systems write for a birth date they do not know (their first day, Unix's day zero): two strangers would agree
# on it. A patron truly born on one of them loses that evidence only.
_PLACEHOLDER_BIRTH_DATES = frozenset({date(1900, 1, 1), date(1901, 1, 1), date(1970, 1, 1)})

# Country names people write instead of ISO codes, folded.
_COUNTRY_NAMES = {
    **dict.fromkeys(("canada", "can"), "CA"),
    **dict.fromkeys(("etats unis", "united states", "usa", "u s a", "united states of america"), "US"),
    **dict.fromkeys(("france", "fra"), "FR"),
    **dict.fromkeys(("belgique", "belgium", "bel"), "BE"),
    **dict.fromkeys(("suisse", "switzerland", "che"), "CH"),
    **dict.fromkeys(("royaume uni", "united kingdom", "uk", "gbr"), "GB"),
}
# Every region phone numbering knows is an ISO 3166 country code; `QC` (a province) and `UK` are not.
_COUNTRY_CODES = frozenset(phonenumbers.SUPPORTED_REGIONS)


def normalise_phone(raw: str, default_region: str = "CA") -> str | None:
    """The number in E.164 (`+15145550199`), read as dialled from `default_region`; an extension is dropped.

    None for what is not a valid number: too short, unassigned (`000-000-0000`), or with letters after the first
    digit (`1-800-FLOWERS`, `514-555-0199 (cell)`): letters there are a typo or a note, never part of a number.
    """
    return _e164(raw, default_region)


@remembered
def _e164(raw: str, default_region: str) -> str | None:
    text = without_extension(raw)
    first_digit = next((index for index, char in enumerate(text) if char.isdigit()), None)
    if first_digit is None or any(char.isalpha() for char in text[first_digit:]):
        return None
    shape = _NORTH_AMERICAN.fullmatch(text)
    if shape is not None and (
        shape["international"] is not None
        or phonenumbers.country_code_for_region(default_region) == _NORTH_AMERICAN_COUNTRY_CODE
    ):
        national = f"{shape['area']}{shape['exchange']}{shape['line']}"
        return f"+1{national}" if _is_valid_north_american(national, default_region) else None
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _is_valid_north_american(national: str, default_region: str) -> bool:
    number = PhoneNumber(country_code=_NORTH_AMERICAN_COUNTRY_CODE, national_number=int(national))
    # Checking the caller's own region first is cheaper than letting the library search every +1 region.
    return phonenumbers.is_valid_number_for_region(number, default_region) or phonenumbers.is_valid_number(number)


def name_without_particles(folded: str) -> str:
    """A folded name without its particles, for matching `de la Fontaine` with `Fontaine`: `d arcy` → `arcy`.

    A name made only of particles (`Le`, a Vietnamese family name once folded) is returned whole.
    """
    words = [word for word in folded.split() if word not in NAME_PARTICLES]
    return " ".join(words) if words else folded


def _plain(raw: str) -> str:
    """`raw` without invisible format characters, in NFKC (full-width `Ｈ２Ｊ` is `H2J`, `１２３` is `123`, a no-break
    space a space): what a web form or a spreadsheet pasted in, read as the patron meant it."""
    return raw if raw.isascii() else unicodedata.normalize("NFKC", without_format_characters(raw))


def plain_capitals(raw: str) -> str:
    """`raw` as `_plain` reads it, in capitals: `ｈ２ｊ\u200b２ｌ１` is `H2J2L1`."""
    capitals = _plain(raw).upper()
    # Capitals can give what NFKC would change (`ΐ` becomes three characters that NFKC composes again): NFKC on both
    # sides of upper case leaves text that reading again does not change.
    return capitals if capitals.isascii() else unicodedata.normalize("NFKC", capitals)


def normalise_postal_code(raw: str, country: str | None) -> str | None:
    """A Canadian code as `H2J 2L1` (when `country` is CA or unknown); any other code upper-cased and trimmed.

    Invisible format characters are dropped and full-width characters read as plain ones first (`Ｈ２Ｊ\u200b２Ｌ１`
    is `H2J 2L1`). A code that does not look Canadian is otherwise kept as written (`75001`, `SW1A 1AA`,
    `90210-1234`), never rejected: None only when there is nothing there.
    """
    text = " ".join(plain_capitals(raw).split())
    if not text:
        return None
    if country is None or country.strip().upper() == "CA":
        compact = with_zeros_for_letter_o(text.translate(_POSTAL_CODE_SPACING))
        if _CANADIAN_POSTAL_CODE.fullmatch(compact):
            return f"{compact[:3]} {compact[3:]}"
    return text


def with_zeros_for_letter_o(compact: str) -> str:
    """`HOJ 2L1` is `H0J 2L1`: a Canadian code holds a digit every second place, so an O there is a zero typed."""
    if len(compact) != len(_CANADIAN_POSTAL_CODE_PLACES) or "O" not in compact:
        return compact
    return "".join(
        "0" if char == "O" and place == "9" else char
        for char, place in zip(compact, _CANADIAN_POSTAL_CODE_PLACES, strict=True)
    )


def normalise_street(raw: str) -> tuple[str | None, str | None]:
    """The civic number and the street as matching compares them: `4521, rue Saint-Denis` → (`4521`, `st denis rue`).

    Invisible format characters are dropped and full-width characters read as plain ones first (`１２３` is `123`).
    The number keeps a letter suffix (`4521A`, `4521-A`, `4521 A` → `4521a`); a unit is left out wherever it is
    written (`3-4521 rue X` and `app. 3 - 4521 rue X`, the Québec habit of unit first; `4521 rue X, app. 3`, `... #3`),
    as `street_unit` reads it apart: one building's addresses have one number and street.
    The name is folded like `fold_name`, then reordered so French and English forms meet:

        name words, then the street type, then the direction

    The type is one token in one vocabulary for both languages (`boulevard`/`boul`/`blvd` → `boul`,
    `avenue`/`ave`/`av` → `av`, `street`/`st` → `st`, `chemin`/`ch` → `ch`, `road`/`rd` → `rd`, `rue` → `rue` ...),
    taken from the front in French (`rue Saint-Denis`) or the back in English (`Main St.`). `st` in front is Saint.
    The direction is `o`, `e`, `n` or `s` (`Ouest`, `O.`, `West` → `o`). Articles right after the type are dropped
    (`chemin de la Côte-des-Neiges` = `chemin Côte-des-Neiges` → `cote des neiges ch`) and ordinals lose their
    suffix (`5e Avenue` = `5th Avenue` → `5 av`; `rang 5` = `5e Rang` → `5 rang`).
    """
    number, name, _ = _street(raw)
    return number, name


def street_unit(raw: str) -> str | None:
    """The unit a street line gives, as matching compares it: `3` of `3-4521 rue X`, `app. 3 - 4521 rue X`,
    `4521 rue X, app. 3`, `4521 rue X #3` and of `App. 3` alone; `12b` of `#12-B`, `7` of `app. 007`.

    None when the line gives none. The word before it (`app.`, `apt`, `suite`, `bureau`, `#`) is left out: a unit is
    one number, however it is called.
    """
    return _street(raw)[2]


@remembered
def _street(raw: str) -> tuple[str | None, str | None, str | None]:
    """The civic number, the street and the unit of a street line."""
    text = " ".join(_plain(raw).split())
    trailing_unit = _TRAILING_UNIT.search(text)
    unit = None
    if trailing_unit is not None:
        unit, text = trailing_unit["unit"], text[: trailing_unit.start()]
    alone = _UNIT_ALONE.fullmatch(text)
    if alone is not None:
        return None, None, _unit_value(unit or alone["unit"])
    number = None
    civic = _UNIT_THEN_NUMBER.match(text)
    if civic is not None:
        unit = unit or civic["unit"]
    else:
        leading_unit = _LEADING_UNIT.match(text)
        if leading_unit is not None:
            unit = unit or leading_unit["unit"]
        civic = _NUMBER.match(text, leading_unit.end() if leading_unit else 0)
    if civic is not None:
        suffix = civic["suffix"]
        if suffix is not None and civic["gap"] == " " and not _a_spaced_letter_is_a_suffix(civic, text):
            number, text = civic["number"], text[civic.start("suffix") :]
        elif not _names_a_numbered_street(civic, text):
            number, text = civic["number"] + (suffix or "").lower(), text[civic.end() :]
    words = _street_words(folded_words(text))
    return number, " ".join(words) if words else None, _unit_value(unit)


def _unit_value(written: str | None) -> str | None:
    """`3B`, `3-B` → `3b`; `007` → `7`, as the leading zeros of a unit's number are no digits of it."""
    if written is None:
        return None
    compact = written.replace("-", "").lower()
    significant = compact.lstrip("0")
    return significant if significant[:1].isdigit() else compact or None


def _a_spaced_letter_is_a_suffix(civic: re.Match[str], text: str) -> bool:
    """`1234 B av du Parc` is `1234B av du Parc` and `1234-B av du Parc`, unless the letter is a word of the street:

    a direction before an English name (`55 E Main Street`; a French type follows the number, so `12 E rue X` is
    `12E`), the whole name before its type (`55 E St`, `10 B Street`), or a word cut by an apostrophe (`5 L'Acadie`).
    """
    after = text[civic.end("suffix") :]
    if after.startswith(("'", "’")):
        return False
    words = folded_words(after)
    if len(words) == 1 and words[0] in _STREET_TYPES:
        return False
    if civic["suffix"].lower() in _DIRECTIONS:
        return bool(words) and words[0] in _STREET_TYPES and words[0] not in _ENGLISH_ONLY_TYPES
    return True


def _names_a_numbered_street(civic: re.Match[str], text: str) -> bool:
    """`5e Avenue`, `2e Rang`: a French ordinal and a street type alone, with no civic number before them."""
    after = folded_words(text[civic.end() :])
    return (
        civic["suffix"] is not None
        and _ORDINAL.fullmatch(f"{civic['number']}{civic['suffix'].lower()}") is not None
        and len(after) == 1
        and after[0] in _STREET_TYPES
    )


def _street_words(folded: tuple[str, ...]) -> list[str]:
    words = [_without_ordinal_suffix(word) for word in folded]
    direction = street_type = None
    if len(words) >= 2 and words[-1] in _DIRECTIONS:
        direction = _DIRECTIONS[words.pop()]
    if len(words) >= 2 and words[-1] in _ENGLISH_ONLY_TYPES:
        street_type = _STREET_TYPES[words.pop()]
    elif len(words) >= 2 and words[0] in _STREET_TYPES and words[0] not in _ENGLISH_ONLY_TYPES:
        street_type = _STREET_TYPES[words.pop(0)]
    elif len(words) >= 2 and words[-1] in _STREET_TYPES:
        street_type = _STREET_TYPES[words.pop()]
    while len(words) > 1 and words[0] in _STREET_PARTICLES:
        words.pop(0)
    return words + [token for token in (street_type, direction) if token is not None]


_TYPE_TOKENS = frozenset(_STREET_TYPES.values())
_DIRECTION_TOKENS = frozenset(_DIRECTIONS.values())


# Read as a street type, and so moved after the name, by versions before it was known to start names instead.
_FORMER_TYPE = "cote"
# One type named in each language: `rue Peel` is `Peel Street`, `chemin X` is `X Road`, `promenade X` is `X Drive`.
TRANSLATED_STREET_TYPES = frozenset(
    frozenset(pair)
    for pair in (("rue", "st"), ("ch", "rd"), ("crois", "cres"), ("tsse", "terr"), ("prom", "dr"), ("carre", "sq"))
)


@quick_init
@dataclass(frozen=True, slots=True)
class StreetParts:
    """A street as `normalise_street` writes it, taken apart to tell whether two spellings name one street.

    `name`: its words, `ste` read as `st` (English writes `St.` for Sainte too: `ste catherine rue o`, rue
    Sainte-Catherine Ouest, and `st catherine st o`, St. Catherine Street West, share `st catherine`), articles
    left out. A name stored when `côte` was read as a type, moved after the name (`neiges cote`), has it put back
    in front: it meets `cote des neiges`.
    """

    name: tuple[str, ...]
    street_type: str | None
    direction: str | None

    @property
    def numbered(self) -> bool:
        """`1re Avenue`, `3e Rue`: the name is a number, so only the type tells streets apart."""
        return all(word.isdigit() for word in self.name)


def street_parts(street_name: str) -> StreetParts:
    words = ["st" if word == "ste" else word for word in street_name.split()]
    direction = words.pop() if len(words) > 1 and words[-1] in _DIRECTION_TOKENS else None
    street_type = words.pop() if len(words) > 1 and words[-1] in _TYPE_TOKENS else None
    named = [word for word in words if word not in _STREET_PARTICLES] or words
    if len(named) > 1 and named[-1] == _FORMER_TYPE:
        named = [_FORMER_TYPE, *named[:-1]]
    return StreetParts(tuple(named), street_type, direction)


def street_without_type(street_name: str) -> str:
    """A street's name and direction without its type (see `StreetParts`): `jean talon rue o` and `jean talon st o`
    (rue Jean-Talon Ouest, Jean-Talon Street West) are both `jean talon o`."""
    parts = street_parts(street_name)
    return " ".join((*parts.name, *((parts.direction,) if parts.direction else ())))


def _without_ordinal_suffix(word: str) -> str:
    ordinal = _ORDINAL.fullmatch(word)
    return ordinal[1] if ordinal else word


def parse_birth_date(raw: str | date, *, today: date) -> date | None:
    """A birth date from `1984-03-17`, `19840317` or a date already parsed; None for a date that cannot be one.

    Impossible calendar dates (`2023-02-30`), years before 1900 and days after `today` are refused.
    """
    read = _read_birth_date(raw, today=today)
    return read if isinstance(read, date) else None


def is_placeholder_birth_date(day: date) -> bool:
    """Whether `day` is what systems write for a birth date they do not know (see `_PLACEHOLDER_BIRTH_DATES`)."""
    return day in _PLACEHOLDER_BIRTH_DATES


# Why a value given is not used, said after the value, in English and in French.
_Problem = tuple[str, str]


def _read_birth_date(raw: str | date, *, today: date) -> date | _Problem:
    """The date, or why there is none."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        day = raw
    else:
        shape = _ISO_BIRTH_DATE.fullmatch(raw.strip())
        if shape is None:
            return ("is not a date such as 1984-03-17 or 19840317", "n'est pas une date comme 1984-03-17 ou 19840317")
        year, month, day_of_month = (
            (shape["year"], shape["month"], shape["day"])
            if shape["year"]
            else (shape["compact_year"], shape["compact_month"], shape["compact_day"])
        )
        try:
            day = date(int(year), int(month), int(day_of_month))
        except ValueError:
            return ("is not a real calendar date", "n'existe pas au calendrier")
    if day.year < EARLIEST_BIRTH_YEAR:
        return (f"is before {EARLIEST_BIRTH_YEAR}", f"est antérieure à {EARLIEST_BIRTH_YEAR}")
    if is_placeholder_birth_date(day):
        return (
            "is what systems write for an unknown birth date",
            "est ce que les systèmes inscrivent pour une date de naissance inconnue",
        )
    if day > today:
        return ("is in the future", "est dans l'avenir")
    return day


def _country(raw: str) -> str | None:
    code = raw.strip().upper()
    if code in _COUNTRY_CODES:
        return code
    folded = fold_name(raw)
    return _COUNTRY_NAMES.get(folded) if folded else None


_NOT_AN_EMAIL = ("is not an email address", "n'est pas une adresse courriel")
_NOT_A_PHONE = ("is not a valid phone number", "n'est pas un numéro de téléphone valide")
_NO_LETTERS = ("has no letters or digits", "ne contient ni lettre ni chiffre")
_NOT_A_COUNTRY = (
    "is not a two-letter country code or country name",
    "n'est ni un code de pays à deux lettres ni un nom de pays",
)
_NO_STREET = ("has no street number or name", "n'a ni numéro ni nom de rue")


def normalise_record(
    record: PersonRecord, *, today: date, default_region: str = "CA", language: Language = "en"
) -> NormalisedRecord:
    """`record` in canonical form; never raises.

    A field given but unusable becomes None and adds one warning in `language` naming the field and the problem
    (`phone: '12' is not a valid phone number`, `champ phone ignoré : « 12 » n'est pas un numéro de téléphone
    valide`); a blank field counts as not given. `region` is not kept. `address_2` gives the street only when
    `street` names none (`App. 3` on the first line, the street on the second), and the unit when it holds nothing
    else (`App. 3`, `#3`, `3`) and `street` gives a civic number but no unit.
    """
    warnings = _Warnings(language)
    email = _usable("email", record.email, normalise_email, _NOT_AN_EMAIL, warnings)
    phone = _usable("phone", record.phone, lambda raw: normalise_phone(raw, default_region), _NOT_A_PHONE, warnings)
    first_name = _usable("first_name", record.first_name, fold_name, _NO_LETTERS, warnings)
    last_name = _usable("last_name", record.last_name, fold_name, _NO_LETTERS, warnings)
    street_number, street_name, unit = _street_of(record, warnings)
    city = _usable("city", record.city, fold_name, _NO_LETTERS, warnings)
    country = _usable("country", record.country, _country, _NOT_A_COUNTRY, warnings)
    postal_code = normalise_postal_code(record.postal_code, country) if record.postal_code is not None else None
    birth_date = _birth_date_of(record, today, warnings)
    return NormalisedRecord(
        source=record.source,
        # Blank, it would be one id shared by every record of the source that left it empty: no id at all. A padded
        # one is kept as it is, as the records stored before were filed under it.
        external_id=record.external_id if record.external_id is None or record.external_id.strip() else None,
        email=email,
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        street_number=street_number,
        street_name=street_name,
        unit=unit,
        city=city,
        postal_code=postal_code,
        country=country,
        birth_date=birth_date,
        warnings=tuple(warnings.said),
    )


def _given(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def shown_in_warning(value: str) -> str:
    """`value` as a warning names it: its start only when it is long."""
    return value if len(value) <= _SHOWN_LENGTH else f"{value[:_SHOWN_LENGTH]}…"


class _Warnings:
    """The warnings of one record, worded in one language."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.said: list[str] = []

    def add(self, field: str, value: str, problem: _Problem) -> None:
        en, fr = problem
        self.said.append(
            in_language(
                self.language,
                en=f"{field}: {quoted(shown_in_warning(value), 'en')} {en}",
                # French puts what becomes of the field before the colon, where English leaves it to the batch.
                fr=f"champ {field} ignoré : {quoted(shown_in_warning(value), 'fr')} {fr}",
            )
        )


def _usable(
    field: str, value: str | None, normalise: Callable[[str], str | None], problem: _Problem, warnings: _Warnings
) -> str | None:
    if value is None or not value.strip():
        return None
    normalised = normalise(value)
    if normalised is None:
        warnings.add(field, value, problem)
    return normalised


def _street_of(record: PersonRecord, warnings: _Warnings) -> tuple[str | None, str | None, str | None]:
    """The civic number, the street and the unit."""
    street = _given(record.street)
    if street is None:
        return None, None, None
    number, name, unit = _street(street)
    second_line = _given(record.address_2)
    if second_line is not None:
        second_number, second_name, second_unit = _street(second_line)
        if name is None and second_name is not None:
            return second_number, second_name, unit or second_unit
        if second_name is None and number is not None and unit is None:
            # A second line naming no street holds the unit, written with its word or alone (`3`): the form's
            # "apartment, suite" line.
            unit = second_unit or _unit_value(second_number)
    if number is None and name is None:
        warnings.add("street", street, _NO_STREET)
    return number, name, unit


def _birth_date_of(record: PersonRecord, today: date, warnings: _Warnings) -> date | None:
    raw = record.birth_date
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    read = _read_birth_date(raw, today=today)
    if isinstance(read, tuple):
        warnings.add("birth_date", str(raw), read)
        return None
    return read
